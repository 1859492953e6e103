import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createUserStatements,
  ephemeralMysqlPassword,
  ephemeralMysqlUserName,
  gatewayOfMysqlUser,
  mysqlAccount,
  mysqlPlainLiteral,
  mysqlRoleIdentifier,
} from "../../src/credentials/mysql-user-names.js";

const GATEWAY = "0123456789abcdef";

describe("per-session MySQL user names", () => {
  it("carry the gateway id and randomness only, inside the 32-character limit", () => {
    const name = ephemeralMysqlUserName(GATEWAY);
    expect(name).toMatch(/^latch_0123456789abcdef_[0-9a-f]{8}$/);
    expect(name.length).toBeLessThanOrEqual(32);
    expect(ephemeralMysqlUserName(GATEWAY)).not.toBe(name);
    expect(gatewayOfMysqlUser(name)).toBe(GATEWAY);
  });

  it("are told apart from other latch_ users (the reaper touches only its scheme)", () => {
    for (const other of [
      "latch_admin",
      "latch_app_1234",
      `latch_${GATEWAY}_1234567`,
      `latch_${GATEWAY}_123456789`,
    ])
      expect(gatewayOfMysqlUser(other)).toBeUndefined();
    expect(() => ephemeralMysqlUserName("not-hex")).toThrow();
  });

  it("passwords are 32 URL-safe characters that quote without escapes", () => {
    const password = ephemeralMysqlPassword();
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(mysqlPlainLiteral(password)).toBe(`'${password}'`);
  });
});

describe("admin SQL quoting refuses what it cannot quote plainly", () => {
  it("refuses quotes, backslashes, NUL, backticks and newlines in literals, roles and accounts", () => {
    for (const bad of ["a'b", "a\\b", "a\0b", "a`b", "a\nb", "a;b", 'a"b'])
      expect(() => mysqlPlainLiteral(bad)).toThrow();
    for (const bad of ["r`; DROP USER root; --", "r'", "", "a b", "x".repeat(65)])
      expect(() => mysqlRoleIdentifier(bad)).toThrow();
    expect(() => mysqlAccount("u'", "127.0.0.1")).toThrow();
    expect(() => mysqlAccount("u", "h'@'%")).toThrow();
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const quoted = mysqlPlainLiteral(text);
          expect(quoted.slice(1, -1)).not.toMatch(/['\\`"\0\n\r;]/);
        } catch {
          // refused: fine
        }
      }),
    );
  });

  it("quotes accounts and roles", () => {
    expect(mysqlAccount("latch_x", "10.0.0.0/255.0.0.0")).toBe("'latch_x'@'10.0.0.0/255.0.0.0'");
    expect(mysqlAccount("latch_x", "%")).toBe("'latch_x'@'%'");
    expect(mysqlRoleIdentifier("shop_reader")).toBe("`shop_reader`");
  });
});

describe("createUserStatements", () => {
  const account = "'latch_x'@'127.0.0.1'";
  it("uses MariaDB's SET DEFAULT ROLE ... FOR", () => {
    expect(createUserStatements("mariadb", account, "pw", ["r1"])).toEqual([
      "CREATE USER 'latch_x'@'127.0.0.1' IDENTIFIED BY 'pw'",
      "GRANT `r1` TO 'latch_x'@'127.0.0.1'",
      "SET DEFAULT ROLE `r1` FOR 'latch_x'@'127.0.0.1'",
    ]);
  });
  it("uses MySQL 8's SET DEFAULT ROLE list TO", () => {
    expect(createUserStatements("mysql", account, "pw", ["r1", "r2"]).slice(1)).toEqual([
      "GRANT `r1`, `r2` TO 'latch_x'@'127.0.0.1'",
      "SET DEFAULT ROLE `r1`, `r2` TO 'latch_x'@'127.0.0.1'",
    ]);
  });
  it("grants nothing without roles", () => {
    expect(createUserStatements("mysql", account, "pw", [])).toHaveLength(1);
  });
});
