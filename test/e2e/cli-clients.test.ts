import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

const run = promisify(execFile);
let fx: GatewayFixture;
let token: string;

const BENCH_POLICY = `
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
`;

beforeAll(async () => {
  fx = await startGatewayFixture({ policy: BENCH_POLICY });
  // pgbench tables are created directly (as the app role): the gateway only ever sees the read workload.
  await run(
    "pgbench",
    ["-i", "-s", "1", "-q", `host=127.0.0.1 port=${fx.cluster.port} dbname=app user=${fx.cluster.appUser}`],
    {
      env: { ...process.env, PGPASSWORD: fx.cluster.appPassword },
    },
  );
  token = await fx.gw.token("bench-bot", ["agents"]);
});
afterAll(async () => fx?.stop());

const env = () => ({ ...process.env, PGPASSWORD: token, PGCONNECT_TIMEOUT: "10" });

describe("real libpq clients", () => {
  it("psql runs an allowed query over TLS with the token as password", async () => {
    const { stdout } = await run("psql", [fx.gw.conninfo(), "-At", "-c", "SELECT count(*) FROM items"], {
      env: env(),
    });
    expect(stdout.trim()).toBe("20");
  });

  it("psql shows the denial and its reason, and exits non-zero", async () => {
    const result = await run(
      "psql",
      [fx.gw.conninfo(), "-At", "-v", "ON_ERROR_STOP=1", "-c", "DELETE FROM items"],
      { env: env() },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/denied by Latch policy/);
    expect(result.stderr).toMatch(/sql:delete/);
  });

  it("psql with a wrong password gets a clear authentication error", async () => {
    const result = await run("psql", [fx.gw.conninfo(), "-c", "SELECT 1"], {
      env: { ...env(), PGPASSWORD: "not-a-token" },
    }).then(
      () => ({ stderr: "" }),
      (error: { stderr: string }) => error,
    );
    expect(result.stderr).toMatch(/token rejected/);
  });

  for (const mode of ["simple", "extended", "prepared"] as const) {
    it(`pgbench -S in ${mode} mode completes every transaction through the gateway`, async () => {
      const { stdout } = await run(
        "pgbench",
        ["-S", "-n", "-M", mode, "-c", "4", "-j", "2", "-t", "200", fx.gw.conninfo("app", "bench-bot")],
        { env: env() },
      );
      expect(stdout).toMatch(/number of transactions actually processed: 800\/800/);
      expect(stdout).toMatch(/number of failed transactions: 0/);
    });
  }

  it("recorded every pgbench statement before forwarding it", async () => {
    await fx.gw.gateway.flushAudit();
    const store = fx.gw.gateway.audit;
    const operations = await store.events({ kind: "operation", text: "pgbench_accounts", limit: 1000 });
    expect(operations.length).toBe(1000);
    expect((await store.verifyChain()).ok).toBe(true);
  });
});
