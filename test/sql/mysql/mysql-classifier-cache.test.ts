/** The shape cache: literal variants share a classification (with their own text), nothing else does. */
import { beforeAll, describe, expect, it } from "vitest";
import {
  createMysqlClassifier,
  loadMysqlParser,
  type MysqlClassifier,
} from "../../../src/sql/mysql/create-classifier.js";

let classifier: MysqlClassifier;
beforeAll(async () => {
  await loadMysqlParser();
  classifier = createMysqlClassifier();
});

const tables = (text: string) => {
  const result = classifier.classify(text, "shop");
  if (!result.ok) return result.reason;
  return result.statements.map(
    (s) =>
      `${s.text} -> ${s.accesses.map((a) => (a.resource.type === "Connection" ? a.action : `${a.action} ${a.resource.name}`)).join(",")}`,
  );
};

describe("MySQL classification cache", () => {
  it("gives a literal variant the cached classification with its own text", () => {
    expect(tables("SELECT name FROM users WHERE id = 1 AND note = 'a'")).toEqual([
      "SELECT name FROM users WHERE id = 1 AND note = 'a' -> sql:select shop.users",
    ]);
    expect(tables("SELECT name FROM users WHERE id = 22 AND note = 'b;c'")).toEqual([
      "SELECT name FROM users WHERE id = 22 AND note = 'b;c' -> sql:select shop.users",
    ]);
  });

  it("never merges texts that differ in a name, even one holding digits", () => {
    expect(tables("SELECT * FROM t1")).toEqual(["SELECT * FROM t1 -> sql:select shop.t1"]);
    expect(tables("SELECT * FROM t2")).toEqual(["SELECT * FROM t2 -> sql:select shop.t2"]);
    expect(tables("SELECT * FROM `t 1`")).toEqual(["SELECT * FROM `t 1` -> sql:select shop.t 1"]);
    expect(tables("SELECT * FROM `t 2`")).toEqual(["SELECT * FROM `t 2` -> sql:select shop.t 2"]);
    expect(tables("SELECT * FROM 1abc")).toEqual(["SELECT * FROM 1abc -> sql:select shop.1abc"]);
    expect(tables("SELECT * FROM 2abc")).toEqual(["SELECT * FROM 2abc -> sql:select shop.2abc"]);
  });

  it("keys statements whose verdict depends on a literal by their exact text", () => {
    expect(classifier.classify("SET NAMES 'utf8mb4'", "shop").ok).toBe(true);
    expect(classifier.classify("SET NAMES 'gbk'", "shop").ok).toBe(false);
    const inner = (text: string) => {
      const result = classifier.classify(text, "shop");
      return result.ok ? result.statements[0]!.prepares?.inner.verb : result.reason;
    };
    expect(inner("PREPARE s FROM 'SELECT 1'")).toBe("sql:select");
    expect(inner("PREPARE s FROM 'DELETE FROM users'")).toBe("sql:delete");
  });

  it("keeps the database in the key", () => {
    expect(tables("SELECT * FROM users")).toEqual(["SELECT * FROM users -> sql:select shop.users"]);
    const other = classifier.classify("SELECT * FROM users", "other");
    expect(other.ok && other.statements[0]!.accesses[0]!.resource).toEqual({
      type: "Table",
      name: "other.users",
    });
  });

  it("hands a repeated text back as the same classification, and only for the same database", () => {
    const first = classifier.classify("SELECT c FROM sbtest1 WHERE id=41", "shop");
    const again = classifier.classify("SELECT c FROM sbtest1 WHERE id=41", "shop");
    expect(again).toBe(first);
    // A literal variant: the cached classification with its own text, a step object of its own.
    const variant = classifier.classify("SELECT c FROM sbtest1 WHERE id=42", "shop");
    expect(variant.ok && first.ok && variant.statements[0]!.step).not.toBe(
      first.ok && first.statements[0]!.step,
    );
    expect(variant.ok && variant.statements[0]!.step.text).toBe("SELECT c FROM sbtest1 WHERE id=42");
    // ...sharing what the policy engine's admission memo keys on (src/policy/step-memo.ts), so a point select
    // with a new id is answered by the memo: the accesses array, the action and the facts object.
    const [a, b] = [first, variant].map((c) => (c.ok ? c.statements[0]!.step : undefined));
    expect(b?.accesses).toBe(a?.accesses);
    expect(b?.facts).toBe(a?.facts);
    expect(b?.action).toBe(a?.action);
    const elsewhere = classifier.classify("SELECT c FROM sbtest1 WHERE id=41", "shop2");
    expect(elsewhere).not.toBe(first);
    expect(elsewhere.ok && elsewhere.statements[0]!.accesses[0]!.resource).toEqual({
      type: "Table",
      name: "shop2.sbtest1",
    });
    // A database name holding the separator cannot reach another pair's entry.
    const tricky = classifier.classify("x", "shop\u0000SELECT c FROM sbtest1 WHERE id=41");
    expect(tricky).not.toBe(first);
  });

  it("keeps the first text of a shape, not its literal variants (re-issued, never held)", () => {
    const fresh = createMysqlClassifier();
    const first = fresh.classify("SELECT c FROM sbtest1 WHERE id=1", "shop");
    expect(fresh.classify("SELECT c FROM sbtest1 WHERE id=1", "shop")).toBe(first);
    const variant = fresh.classify("SELECT c FROM sbtest1 WHERE id=2", "shop");
    const again = fresh.classify("SELECT c FROM sbtest1 WHERE id=2", "shop");
    // Equal, with its own text, but made afresh: no variant's classification stays in memory.
    expect(again).toEqual(variant);
    expect(again).not.toBe(variant);
    expect(again.ok && again.statements[0]!.step.text).toBe("SELECT c FROM sbtest1 WHERE id=2");
    // Texts whose verdict depends on a literal are classified in full, so each is kept under its exact text.
    const names = fresh.classify("SET NAMES 'utf8mb4'", "shop");
    expect(fresh.classify("SET NAMES 'utf8mb4'", "shop")).toBe(names);
  });

  it("stays bounded: an entry pushed out is classified afresh, to the same verdict", () => {
    const small = createMysqlClassifier({ cacheSize: 2 });
    const first = small.classify("SELECT * FROM a", "shop");
    small.classify("SELECT * FROM b", "shop");
    small.classify("SELECT * FROM c", "shop");
    const again = small.classify("SELECT * FROM a", "shop");
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });
});
