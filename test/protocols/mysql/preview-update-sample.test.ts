import { describe, expect, it } from "vitest";
import { updateParts } from "../../../src/protocols/mysql/preview-update-sample.js";

describe("updateParts (reading an UPDATE's rows back by key)", () => {
  it("splits a single-table UPDATE at its top-level SET and WHERE / ORDER BY / LIMIT", () => {
    expect(updateParts("UPDATE items SET name = 'a, WHERE b' WHERE id < 5 ORDER BY id LIMIT 3")).toEqual({
      table: "items",
      assignments: " name = 'a, WHERE b' ",
      tail: "WHERE id < 5 ORDER BY id LIMIT 3",
    });
    expect(
      updateParts("UPDATE LOW_PRIORITY IGNORE shop.items AS i SET i.name = CONCAT(i.name, '!')"),
    ).toEqual({
      table: "shop.items AS i",
      assignments: " i.name = CONCAT(i.name, '!')",
      tail: "",
    });
    expect(
      updateParts("UPDATE items SET name = (SELECT 'x' FROM dual WHERE 1) WHERE id IN (SELECT 1)"),
    ).toMatchObject({
      tail: "WHERE id IN (SELECT 1)",
    });
    expect(updateParts("UPDATE `set` SET `where` = 1 WHERE id = 2")).toMatchObject({
      table: "`set`",
      tail: "WHERE id = 2",
    });
  });

  it("gives nothing for several tables, so the rows are not read back from the wrong one", () => {
    expect(
      updateParts("UPDATE items, other SET items.name = other.name WHERE items.id = other.id"),
    ).toBeUndefined();
    expect(
      updateParts("UPDATE items JOIN other ON items.id = other.id SET items.name = 'x'"),
    ).toBeUndefined();
    expect(updateParts("DELETE FROM items")).toBeUndefined();
  });
});
