/** Where MySQL statements use masked columns (on_derived / strict), read from the sqlparser-rs tree. */
import { beforeAll, describe, expect, it } from "vitest";
import { loadMysqlParser } from "../../../src/sql/mysql/load-parser.js";
import { createMaskedUseAnalyzer, findMysqlMaskedColumnUses } from "../../../src/sql/mysql/masking-facts.js";

const MASKED = ["shop.users.ssn", "shop.users.notes"];

beforeAll(async () => {
  await loadMysqlParser();
});

function places(sql: string): string[] {
  const facts = findMysqlMaskedColumnUses(sql, "shop", MASKED);
  if (!facts.ok) throw new Error(facts.reason);
  return [...new Set(facts.uses.map((use) => `${use.place}:${use.column.split(".")[2]}`))].sort();
}

describe("findMysqlMaskedColumnUses", () => {
  it.each([
    ["SELECT ssn, notes FROM users", ["output:notes", "output:ssn"]],
    ["SELECT ssn AS x, u.notes FROM users u", ["output:notes", "output:ssn"]],
    ["SELECT `ssn` FROM `shop`.`users`", ["output:ssn"]],
    ["SELECT * FROM users", ["output:notes", "output:ssn"]],
    ["SELECT count(*) FROM users", []],
    ["SELECT id FROM users", []],
    ["SELECT ssn FROM other.users", []],
  ])("keeps provenance for %s", (sql, expected) => {
    expect(places(sql)).toEqual(expected);
  });

  it.each([
    "SELECT concat(ssn, '') FROM users",
    "SELECT CAST(ssn AS CHAR) FROM users",
    "SELECT JSON_EXTRACT(JSON_OBJECT('a', ssn), '$.a') FROM users",
    "SELECT GROUP_CONCAT(ssn) FROM users",
    "SELECT ssn FROM users UNION SELECT 'a'",
    "SELECT * FROM (SELECT ssn FROM users) t",
    "SELECT * FROM (SELECT * FROM users) t",
    "WITH c AS (SELECT ssn FROM users) SELECT * FROM c",
    "SELECT (SELECT ssn FROM users LIMIT 1)",
    "SELECT (ssn) FROM users",
    "SET @v = (SELECT ssn FROM users LIMIT 1)",
    "SELECT @v := ssn FROM users",
    "INSERT INTO t SELECT * FROM users",
    "CREATE TABLE t2 AS SELECT ssn FROM users",
    "UPDATE users SET notes = ssn WHERE id = 1",
    "PREPARE s FROM 'SELECT concat(ssn) FROM users'",
    "SELECT 1; SELECT ssn || 'a' FROM users",
    "SELECT u.ssn + 0 FROM shop.users u",
  ])("finds a derived use in %s", (sql) => {
    expect(places(sql).some((place) => place.startsWith("derived:ssn"))).toBe(true);
  });

  it.each([
    ["SELECT id FROM users WHERE ssn = 1", "predicate:ssn"],
    ["SELECT id FROM users ORDER BY ssn", "predicate:ssn"],
    ["SELECT id FROM users GROUP BY ssn", "predicate:ssn"],
    ["SELECT u.id FROM users u JOIN users v ON u.ssn = v.ssn", "predicate:ssn"],
    ["UPDATE users SET notes = 'x' WHERE ssn = '1'", "predicate:ssn"],
    ["SELECT ssn AS x FROM users ORDER BY x", "predicate:ssn"],
  ])("finds a predicate use in %s", (sql, expected) => {
    expect(places(sql)).toContain(expected);
  });

  it("ignores variables and names of other things", () => {
    expect(places("SELECT @ssn")).toEqual([]);
    expect(places("SHOW WARNINGS")).toEqual([]);
  });

  it("fails closed on a text it cannot split", () => {
    expect(findMysqlMaskedColumnUses("SELECT 'unterminated", "shop", MASKED).ok).toBe(false);
  });

  it("caches by shape, except where a literal is SQL (PREPARE)", () => {
    const analyze = createMaskedUseAnalyzer(MASKED);
    const first = analyze("SELECT concat(ssn, 'a') FROM users WHERE id = 1", "shop");
    expect(analyze("SELECT concat(ssn, 'b') FROM users WHERE id = 2", "shop")).toBe(first);
    // Another database is another key: the same text reads other tables there.
    expect(analyze("SELECT concat(ssn, 'b') FROM users WHERE id = 2", "other")).toEqual({
      ok: true,
      uses: [],
    });
    const harmless = analyze("PREPARE s FROM 'SELECT id FROM users'", "shop");
    expect(harmless).toEqual({ ok: true, uses: [] });
    const prepared = analyze("PREPARE s FROM 'SELECT concat(ssn) FROM users'", "shop");
    expect(prepared.ok && prepared.uses.some((use) => use.place === "derived")).toBe(true);
  });
});
