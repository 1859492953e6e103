/**
 * The MySQL classifier's caches key a text within a database (scoped-cache.ts): held to an uncached classifier
 * across database switches (what USE and COM_INIT_DB do to a session), past the per-text chain of databases and
 * the cache's bound; and the chain itself (newest first, at most MAX_SCOPES_PER_TEXT, generations).
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { classifyMysql } from "../../../src/sql/mysql/classify-statement.js";
import { createMysqlClassifier, loadMysqlParser } from "../../../src/sql/mysql/create-classifier.js";
import { MAX_SCOPES_PER_TEXT, ScopedCache } from "../../../src/sql/mysql/scoped-cache.js";
import { MYSQL_STATEMENTS } from "./statement-corpus.js";

beforeAll(async () => {
  await loadMysqlParser();
});

/** Texts whose classification names the database: unqualified tables, USE, literal variants, PREPARE, SET. */
const TEXTS = [
  "SELECT c FROM sbtest1 WHERE id=1",
  "SELECT c FROM sbtest1 WHERE id=2",
  "SELECT * FROM users",
  "SELECT * FROM shop.users JOIN orders ON 1",
  "UPDATE users SET name = 'x' WHERE id = 3",
  "DELETE FROM orders WHERE id = 4; SELECT * FROM users",
  "USE shop",
  "USE other",
  "PREPARE s FROM 'SELECT * FROM users'",
  "PREPARE s FROM 'DELETE FROM users'",
  "SET NAMES 'utf8mb4'",
  "SET @a = (SELECT count(*) FROM users)",
  "INSERT INTO logs SELECT * FROM users",
  " (SELECT * FROM t1) UNION (SELECT * FROM t2)",
];
const DATABASES = ["shop", "other", "a", "b", "c", "d", "e", "", "shop\u0000SELECT"];

describe("MySQL classification cache within the current database", () => {
  it("classifies every text as an uncached classifier does, whatever databases the session went through", () => {
    const texts = [...TEXTS, ...MYSQL_STATEMENTS];
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.array(fc.record({ text: fc.constantFrom(...texts), database: fc.constantFrom(...DATABASES) }), {
          minLength: 1,
          maxLength: 60,
        }),
        (cacheSize, sequence) => {
          const cached = createMysqlClassifier({ cacheSize });
          for (const { text, database } of sequence)
            expect(cached.classify(text, database)).toEqual(classifyMysql(text, database));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("gives a text back the classification of the database it is sent in, across USE and back", () => {
    const classifier = createMysqlClassifier();
    const table = (database: string) => {
      const result = classifier.classify("SELECT * FROM users", database);
      return result.ok ? result.statements[0]!.accesses[0]!.resource : result.reason;
    };
    const inShop = classifier.classify("SELECT * FROM users", "shop");
    // Five databases in turn: more than one text's chain holds, so the first is pushed out and made again.
    for (const database of ["shop", "a", "b", "c", "d", "shop"])
      expect(table(database)).toEqual({ type: "Table", name: `${database}.users` });
    const again = classifier.classify("SELECT * FROM users", "shop");
    expect(again).toEqual(inShop);
    // Within the chain the same object comes back (the policy engine's memo keys on its steps).
    expect(classifier.classify("SELECT * FROM users", "shop")).toBe(again);
    // A literal variant re-issued from the shape cache carries the variant's database too.
    const variant = classifier.classify("SELECT c FROM sbtest1 WHERE id=9", "d");
    classifier.classify("SELECT c FROM sbtest1 WHERE id=10", "shop");
    const shifted = classifier.classify("SELECT c FROM sbtest1 WHERE id=11", "d");
    expect(shifted.ok && shifted.statements[0]!.accesses[0]!.resource).toEqual({
      type: "Table",
      name: "d.sbtest1",
    });
    expect(variant.ok && shifted.ok && shifted.statements[0]!.step.accesses).toBe(
      variant.ok && variant.statements[0]!.step.accesses,
    );
  });

  it("keeps the first-word exceptions (PREPARE, SET) out of the shape cache, however the word is written", () => {
    const classifier = createMysqlClassifier();
    expect(classifier.classify("set NAMES 'utf8mb4'", "shop").ok).toBe(true);
    expect(classifier.classify("set NAMES 'gbk'", "shop").ok).toBe(false);
    expect(classifier.classify("\u00a0( Set NAMES 'gbk'", "shop").ok).toBe(false);
    const inner = (text: string) => {
      const result = classifier.classify(text, "shop");
      return result.ok ? result.statements[0]!.prepares?.inner.verb : result.reason;
    };
    expect(inner("prepare s FROM 'SELECT 1'")).toBe("sql:select");
    expect(inner("prepare s FROM 'DELETE FROM users'")).toBe("sql:delete");
  });
});

describe("ScopedCache", () => {
  it("holds a text under at most MAX_SCOPES_PER_TEXT scopes, newest first, dropping the oldest", () => {
    const cache = new ScopedCache<number>(10);
    for (let i = 0; i < MAX_SCOPES_PER_TEXT + 2; i++) cache.set("t", `s${i}`, i);
    expect(cache.scopesOf("t")).toEqual(["s5", "s4", "s3", "s2"]);
    expect(cache.get("t", "s0")).toBeUndefined();
    expect(cache.get("t", "s1")).toBeUndefined();
    expect(cache.get("t", "s3")).toBe(3);
    // Setting a scope again replaces its value and moves it to the front.
    cache.set("t", "s3", 30);
    expect(cache.scopesOf("t")).toEqual(["s3", "s5", "s4", "s2"]);
    expect(cache.get("t", "s3")).toBe(30);
    expect(cache.size).toBe(1);
  });

  it("stays bounded by texts, keeps recently used ones, and caches nothing at capacity 0", () => {
    const cache = new ScopedCache<string>(4);
    cache.set("a", "x", "a");
    cache.set("b", "x", "b");
    cache.set("c", "x", "c"); // the young generation (a, b) becomes the old one
    expect(cache.get("a", "x")).toBe("a"); // moved back to the young one
    cache.set("d", "x", "d");
    cache.set("e", "x", "e"); // (c, a) old, b dropped
    expect(cache.get("b", "x")).toBeUndefined();
    expect(cache.get("a", "x")).toBe("a");
    expect(cache.size).toBeLessThanOrEqual(4);
    const none = new ScopedCache<string>(0);
    none.set("a", "x", "a");
    expect(none.get("a", "x")).toBeUndefined();
  });

  it("answers as a Map keyed by (scope, text) does, for any sequence within the per-text chain", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            set: fc.boolean(),
            text: fc.constantFrom("a", "b", "c", "a\u0000b"),
            scope: fc.constantFrom("x", "y", "z", "x\u0000"),
            value: fc.nat(),
          }),
          { maxLength: 80 },
        ),
        (operations) => {
          const cache = new ScopedCache<number>(1000);
          const reference = new Map<string, number>();
          for (const { set, text, scope, value } of operations) {
            const key = JSON.stringify([scope, text]);
            if (set) {
              cache.set(text, scope, value);
              reference.set(key, value);
            } else expect(cache.get(text, scope)).toBe(reference.get(key));
          }
        },
      ),
    );
  });
});
