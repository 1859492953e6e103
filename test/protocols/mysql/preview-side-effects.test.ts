import { beforeAll, describe, expect, it } from "vitest";
import {
  drawsAutoIncrement,
  mysqlPreviewRefusal,
} from "../../../src/protocols/mysql/preview-side-effects.js";
import { createMysqlClassifier, loadMysqlParser } from "../../../src/sql/mysql/create-classifier.js";
import { splitStatements } from "../../../src/sql/mysql/statement-text.js";

const classifier = createMysqlClassifier({ cacheSize: 0 });
beforeAll(() => loadMysqlParser());

/** The refusal for one statement, classified and shaped as the preview runner does. */
function refusal(text: string): string | undefined {
  const classified = classifier.classify(text, "shop");
  const split = splitStatements(text);
  if (!classified.ok || !split.ok) throw new Error(`not classified: ${text}`);
  return mysqlPreviewRefusal(classified.statements[0]!, split.statements[0]!.shape);
}

describe("MySQL preview side-effect checker", () => {
  it.each([
    "UPDATE items SET name = 'x' WHERE id < 5",
    "DELETE FROM items WHERE id = 1",
    "INSERT INTO items (id, name) VALUES (1, 'a')",
    "REPLACE INTO items VALUES (1, 'a')",
    "INSERT INTO items SELECT id + 100, name FROM items",
    "UPDATE items SET name = CONCAT(name, '@', 'sleep(5)') WHERE id = 1",
    "DELETE items FROM items JOIN other ON items.id = other.id",
  ])("lets %s be previewed", (text) => {
    expect(refusal(text)).toBeUndefined();
  });

  it.each([
    ["CREATE TABLE t2 (id INT)", /DDL commits the open transaction/],
    ["ALTER TABLE items ADD COLUMN x INT", /DDL/],
    ["DROP TABLE items", /DDL/],
    ["TRUNCATE items", /TRUNCATE is DDL/],
    ["LOCK TABLES items WRITE", /LOCK TABLES/],
    ["CALL refresh_totals()", /procedure/],
    ["DO SLEEP(1)", /DO only evaluates/],
    ["LOAD DATA INFILE '/tmp/x' INTO TABLE items", /LOAD DATA/],
    [
      "UPDATE items SET name = GET_LOCK('a', 1) WHERE id = 1",
      /get_lock\(\), which takes or releases a named lock/,
    ],
    ["UPDATE items SET name = RELEASE_LOCK('a') WHERE id = 1", /release_lock/],
    ["UPDATE items SET name = SLEEP(1) WHERE id = 1", /sleep\(\), which only spends/],
    [
      "UPDATE items SET name = LOAD_FILE('/etc/passwd') WHERE id = 1",
      /load_file\(\), which reads a server file/,
    ],
    ["INSERT INTO items VALUES (NEXTVAL(s), 'a')", /nextval\(\), which moves a sequence/],
    ["UPDATE items SET name = my_stored_fn(id) WHERE id = 1", /my_stored_fn\(\), whose side effects/],
    ["UPDATE items SET name = @label WHERE id = 1", /user or system variables/],
    ["UPDATE items SET name = 'x' WHERE id = @@last_insert_id", /variables/],
    ["SELECT * FROM items", /only INSERT, REPLACE, UPDATE and DELETE/],
    ["GRANT SELECT ON shop.* TO 'x'@'%'", /commit implicitly/],
  ])("refuses %s", (text, reason) => {
    expect(refusal(text)).toMatch(reason);
  });

  it("refuses the sequence syntax MariaDB has beside NEXTVAL(), from the shape (literals blanked)", () => {
    const statement = classifier.classify("UPDATE items SET name = 'x' WHERE id = 1", "shop");
    if (!statement.ok) throw new Error("not classified");
    expect(
      mysqlPreviewRefusal(statement.statements[0]!, "UPDATE items SET id = NEXT VALUE FOR s WHERE id = 0"),
    ).toMatch(/NEXT VALUE FOR/);
    expect(
      mysqlPreviewRefusal(statement.statements[0]!, "UPDATE items SET name = '' WHERE id = 0"),
    ).toBeUndefined();
  });

  it("says INSERT and REPLACE draw AUTO_INCREMENT values, UPDATE and DELETE do not", () => {
    const kinds = [
      "INSERT INTO items VALUES (1, 'a')",
      "REPLACE INTO items VALUES (1, 'a')",
      "UPDATE items SET name = 'a' WHERE id = 1",
      "DELETE FROM items WHERE id = 1",
    ].map((text) => {
      const classified = classifier.classify(text, "shop");
      if (!classified.ok) throw new Error("not classified");
      return drawsAutoIncrement(classified.statements[0]!);
    });
    expect(kinds).toEqual([true, true, false, false]);
  });
});
