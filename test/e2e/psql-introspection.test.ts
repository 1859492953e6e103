/**
 * Issue 18: psql's describe commands work through Latch under a policy that permits only sql:read, and a
 * dangerous function in a catalog-shaped query is still denied in-protocol. The classifier-level corpus of
 * these and other tools' queries is test/sql/introspection-corpus.test.ts.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

const run = promisify(execFile);
let fx: GatewayFixture;
let token: string;

const READ_ONLY_POLICY = `
permit(principal in Group::"readers", action in Action::"sql:read", resource in Connection::"app");
`;

beforeAll(async () => {
  fx = await startGatewayFixture({ policy: READ_ONLY_POLICY });
  token = await fx.gw.token("catalog-reader", ["readers"]);
});
afterAll(async () => fx?.stop());

async function psql(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, PGPASSWORD: token, PGCONNECT_TIMEOUT: "10" };
  return run("psql", [fx.gw.conninfo(), "-X", "-v", "ON_ERROR_STOP=1", "-c", command], { env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe("psql describe commands under a read-only policy", () => {
  for (const command of ["\\dt", "\\d items", "\\d+ items", "\\l", "\\dn", "\\df", "\\du", "\\di", "\\dv"]) {
    it(`${command} succeeds`, async () => {
      const result = await psql(command);
      // psql prints "Did not find any relations." on stderr for an empty list; errors are what matter.
      expect(result.stderr).not.toMatch(/ERROR|denied/);
      expect(result.code).toBe(0);
      if (command.startsWith("\\d") && command.includes("items"))
        expect(result.stdout).toMatch(/Table "public\.items"/);
      if (command === "\\dt") expect(result.stdout).toMatch(/\bitems\b/);
    });
  }

  it("still denies a dangerous function hidden in a catalog query", async () => {
    const result = await psql(
      "SELECT c.relname, pg_catalog.pg_read_file('/etc/passwd') FROM pg_catalog.pg_class c WHERE pg_catalog.pg_table_is_visible(c.oid)",
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/denied by Latch policy/);
    expect(result.stderr).toMatch(/pg_read_file/);
  });
});
