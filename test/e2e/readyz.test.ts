import { type ChildProcess, execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.js";
import { startLatchServe } from "../support/latch-serve.js";
import { PG_BIN_DIR, type PgCluster, startPgCluster } from "../support/pg-cluster.js";

// Issue 10: /healthz said 200 while a connection's upstream was down. /readyz reports each upstream as last
// checked in the background; /healthz stays liveness. The compiled `latch serve` and a real PostgreSQL that is
// stopped and started again under it.
const run = promisify(execFile);
let cluster: PgCluster;
let dir: string;
let admin: string;
let child: ChildProcess | undefined;

/** pg_ctl as the cluster's owner (initdb/pg_ctl refuse root). */
const pgCtl = (...args: string[]) =>
  run("runuser", ["-u", "postgres", "--", path.join(PG_BIN_DIR, "pg_ctl"), ...args, "-D", cluster.dataDir]);

interface Readyz {
  status: string;
  audit: string;
  connections: Record<
    string,
    { protocol: string; ready: boolean; checkedAt: string | null; latencyMs: number | null; error?: string }
  >;
}
const readyz = async (query = "") => {
  const response = await fetch(`${admin}/readyz${query}`);
  return {
    status: response.status,
    text: await response.clone().text(),
    body: (await response.json()) as Readyz,
  };
};
async function until<T>(ms: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "scram-sha-256" });
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-readyz-"));
  mkdirSync(path.join(dir, "policies"));
  const adminPort = await freePort();
  admin = `http://127.0.0.1:${adminPort}`;
  const config = path.join(dir, "latch.yaml");
  writeFileSync(
    config,
    `listen: { postgres: "127.0.0.1:${await freePort()}", admin: "127.0.0.1:${adminPort}" }
data_dir: ./data
identity: { dev_issuer: true }
policies: ./policies
log_level: info
health: { upstream_check_interval: 100ms, upstream_check_timeout: 1s }
connections:
  app:
    type: postgres
    upstream: postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}
    password: { env: APP_PASSWORD }
`,
  );
  child = await startLatchServe(config, { APP_PASSWORD: cluster.appPassword });
});
afterAll(async () => {
  child?.kill("SIGKILL");
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("/readyz", () => {
  it("follows the upstream down and up again while /healthz stays 200", async () => {
    const up = await until(5000, async () => {
      const result = await readyz();
      return result.status === 200 ? result : undefined;
    });
    expect(up.body).toMatchObject({
      status: "ready",
      audit: "ok",
      connections: { app: { protocol: "postgres", ready: true } },
    });
    expect(Date.parse(up.body.connections.app!.checkedAt!)).toBeGreaterThan(Date.now() - 10_000);
    expect(up.body.connections.app!.latencyMs).toBeGreaterThanOrEqual(0);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toContain('latch_upstream_ready{connection="app"} 1');

    await pgCtl("stop", "-m", "fast", "-w");
    const down = await until(5000, async () => {
      const result = await readyz();
      // A check that raced the shutdown may see the server hang up ("closed"); after it, the port refuses.
      return result.status === 503 && result.body.connections.app?.error === "ECONNREFUSED"
        ? result
        : undefined;
    });
    expect(down.body).toMatchObject({
      status: "not_ready",
      connections: { app: { ready: false, error: "ECONNREFUSED" } },
    });
    // No upstream URL, user or password in what probes and operators read.
    expect(down.text).not.toContain(cluster.appPassword);
    expect(down.text).not.toContain("postgres://");
    expect((await readyz("?connection=app")).status).toBe(503);
    expect((await readyz("?connection=nope")).status).toBe(404);
    expect((await fetch(`${admin}/healthz`)).status).toBe(200); // liveness: the gateway itself is fine
    expect(await (await fetch(`${admin}/metrics`)).text()).toContain(
      'latch_upstream_ready{connection="app"} 0',
    );

    await pgCtl("start", "-w", "-l", path.join(path.dirname(cluster.dataDir), "postgres.log"));
    const back = await until(5000, async () => {
      const result = await readyz("?connection=app");
      return result.status === 200 ? result : undefined;
    });
    expect(back.body.connections).toEqual({ app: expect.objectContaining({ ready: true }) });
  });
});
