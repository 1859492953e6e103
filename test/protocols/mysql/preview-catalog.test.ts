import { describe, expect, it } from "vitest";
import { grantsTrigger } from "../../../src/protocols/mysql/preview-catalog.js";

describe("grantsTrigger (can the session's user see a table's triggers?)", () => {
  it("reads the TRIGGER privilege from SHOW GRANTS lines, the active role's included", () => {
    const role = [
      "GRANT `zz_r` TO `zz_c`@`127.0.0.1`",
      "GRANT USAGE ON *.* TO `zz_c`@`127.0.0.1` IDENTIFIED BY PASSWORD '*D821'",
      "GRANT SELECT, UPDATE, TRIGGER ON `shop`.* TO `zz_r`",
    ];
    expect(grantsTrigger(role, "shop", "items")).toBe(true);
    expect(grantsTrigger(role, "other", "items")).toBe(false);
    expect(
      grantsTrigger(["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"], "a", "b"),
    ).toBe(true);
    expect(grantsTrigger(["GRANT TRIGGER ON `Shop`.`Items` TO `u`@`%`"], "shop", "items")).toBe(true);
    expect(grantsTrigger(["GRANT TRIGGER ON `shop`.`people` TO `u`@`%`"], "shop", "items")).toBe(false);
  });

  it("is not fooled by column lists, lookalike names or lines it cannot read (fail closed)", () => {
    expect(
      grantsTrigger(["GRANT SELECT (trigger, id), UPDATE ON `shop`.* TO `u`@`%`"], "shop", "items"),
    ).toBe(false);
    expect(grantsTrigger(["GRANT SELECT, UPDATE ON `shop`.* TO `trigger`@`%`"], "shop", "items")).toBe(false);
    expect(grantsTrigger(["GRANT TRIGGER ON `shop`.* TO `u`@`%`"], "shop2", "items")).toBe(false);
    expect(grantsTrigger(["GRANT TRIGGER ON *.`items` TO `u`@`%`"], "shop", "items")).toBe(false);
    expect(grantsTrigger(["nonsense"], "shop", "items")).toBe(false);
    expect(grantsTrigger([], "shop", "items")).toBe(false);
  });
});
