import { type ChildProcess, execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.js";
import { LATCH_CLI, startLatchServe } from "../support/latch-serve.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

// Issue 10, recovery without a restart: the compiled `latch serve` in front of a real PostgreSQL. When the disk
// under data_dir fills, statements are denied (58030) and /healthz says why; once space (or write permission on
// latch.db-shm) comes back, the same session runs statements again, with no restart and no crash.
const run = promisify(execFile);
let cluster: PgCluster;
let dir: string;
const mounts: string[] = [];
const children: ChildProcess[] = [];

interface Gateway {
  child: ChildProcess;
  dataDir: string;
  admin: string;
  client: pg.Client;
  /** A new session of the same user. */
  login: () => Promise<pg.Client>;
  adminToken: string;
}

async function startGateway(dataDir: string): Promise<Gateway> {
  const pgPort = await freePort();
  const adminPort = await freePort();
  const config = path.join(dir, `latch-${pgPort}.yaml`);
  writeFileSync(
    config,
    `listen: { postgres: "127.0.0.1:${pgPort}", admin: "127.0.0.1:${adminPort}" }
data_dir: ${JSON.stringify(dataDir)}
identity: { dev_issuer: true }
policies: ${JSON.stringify(path.join(dir, "policies"))}
log_level: info
connections:
  app:
    type: postgres
    upstream: postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}
    password: { env: APP_PASSWORD }
`,
  );
  const child = await startLatchServe(config, { APP_PASSWORD: cluster.appPassword });
  children.push(child);
  const token = async (group: string) =>
    (
      await run(process.execPath, [
        LATCH_CLI,
        "token",
        "--config",
        config,
        "--sub",
        "disk-bot",
        "--group",
        group,
      ])
    ).stdout.trim();
  const login = async () => {
    const client = new pg.Client({
      host: "127.0.0.1",
      port: pgPort,
      user: "disk-bot",
      database: "app",
      password: await token("agents"),
      ssl: { rejectUnauthorized: false },
    });
    client.on("error", () => {});
    await client.connect();
    return client;
  };
  return {
    child,
    dataDir,
    admin: `http://127.0.0.1:${adminPort}`,
    client: await login(),
    login,
    adminToken: await token("latch-admins"),
  };
}

const select = (gw: Gateway) =>
  gw.client.query("SELECT 1 AS ok").then(
    (result) => ({ ok: result.rows[0].ok as number }),
    (error: pg.DatabaseError) => ({ code: error.code, message: error.message }),
  );

async function healthz(gw: Gateway) {
  const response = await fetch(`${gw.admin}/healthz`);
  return {
    status: response.status,
    body: (await response.json()) as { audit: { state: string; reason?: string; since?: string } },
  };
}

async function metric(gw: Gateway, name: string): Promise<number> {
  const text = await (await fetch(`${gw.admin}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1]);
}

/** Repeats `attempt` until it returns something, for at most `ms`. */
async function until<T>(ms: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stopGateway(gw: Gateway): Promise<number | null> {
  await gw.client.end().catch(() => undefined);
  if (gw.child.exitCode !== null || gw.child.signalCode !== null) return gw.child.exitCode;
  gw.child.kill("SIGTERM");
  return new Promise((resolve) => gw.child.once("exit", (code) => resolve(code)));
}

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "scram-sha-256" });
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-disk-full-"));
  mkdirSync(path.join(dir, "policies"));
  writeFileSync(
    path.join(dir, "policies", "p.cedar"),
    'permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");\n',
  );
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const mount of mounts) execFileSync("umount", ["-l", mount], { stdio: "ignore" });
  await cluster?.stop();
  if (dir !== undefined) {
    execFileSync("chattr", ["-R", "-i", dir], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("audit log on a full disk", () => {
  it("denies with 58030 while the disk is full, reports it, and serves again once space is freed", async () => {
    const mount = path.join(dir, "small-disk");
    mkdirSync(mount);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mount]);
    mounts.push(mount);
    const gw = await startGateway(path.join(mount, "data"));
    expect(await select(gw)).toEqual({ ok: 1 });
    expect((await healthz(gw)).body.audit.state).toBe("ok");

    // Fill every byte left: the journal or the SQLite index (whichever needs a new page first) refuses.
    const filler = path.join(mount, "filler");
    try {
      writeFileSync(filler, Buffer.alloc(32 << 20));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
    }
    const denied = await until(5000, async () => {
      const result = await select(gw);
      return "code" in result ? result : undefined;
    });
    expect(denied.code).toBe("58030");
    expect(denied.message).toMatch(/audit log could not be written/);
    const refusing = await healthz(gw);
    expect(refusing.status).toBe(503);
    expect(refusing.body.audit).toMatchObject({ state: "refusing" });
    expect(refusing.body.audit.reason).toMatch(/^disk full \((ENOSPC|SQLITE_FULL)\)$/);
    expect(await metric(gw, "latch_audit_writable")).toBe(0);

    unlinkSync(filler);
    // The writer retries on its own (backoff up to 5 s): the same session runs statements again, no restart.
    const started = Date.now();
    await until(15_000, async () => ("ok" in (await select(gw)) ? true : undefined));
    const recoveredAfterMs = Date.now() - started;
    expect(recoveredAfterMs).toBeLessThan(15_000);
    const healthy = await healthz(gw);
    expect(healthy.status).toBe(200);
    expect(healthy.body.audit).toEqual({ state: "ok" });
    expect(await metric(gw, "latch_audit_writable")).toBe(1);
    expect(await metric(gw, "latch_audit_refused_seconds_total")).toBeGreaterThan(0);
    // Nothing acknowledged was lost on the way: the index holds every event and the chain verifies.
    const verify = await fetch(`${gw.admin}/api/audit/verify`, {
      headers: { authorization: `Bearer ${gw.adminToken}` },
    });
    expect(((await verify.json()) as { ok: boolean }).ok).toBe(true);
    expect(await stopGateway(gw)).toBe(0);
  });
});

describe("an unwritable latch.db-shm at run time", () => {
  // It used to be a SIGBUS (exit 135, no log line) within a second: the approvals sweeper's read, after the
  // index wrote, records its snapshot in the -shm mapping. Every SQLite connection now checks first.
  it("denies with 58030 instead of dying of SIGBUS, keeps serving the admin API, and recovers when fixed", async () => {
    const gw = await startGateway(path.join(dir, "data-shm"));
    expect(await select(gw)).toEqual({ ok: 1 });
    const shm = path.join(gw.dataDir, "latch.db-shm");
    // Immutable: even root cannot write it. SQLite maps this file; a write to the mapping used to be a SIGBUS.
    execFileSync("chattr", ["+i", shm]);
    const denied = await until(5000, async () => {
      const result = await select(gw);
      return "code" in result ? result : undefined;
    });
    expect(denied.code).toBe("58030");
    const refusing = await healthz(gw);
    expect(refusing.status).toBe(503);
    expect(refusing.body.audit).toMatchObject({
      state: "refusing",
      reason: "latch.db-shm is not writable (EPERM)",
    });
    // Past several sweeps (one a second) and a new login (the principal-block read), still alive.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await expect(gw.login()).rejects.toMatchObject({ code: "58030" });
    expect(await select(gw)).toMatchObject({ code: "58030" });
    expect(gw.child.exitCode).toBeNull();
    expect(gw.child.signalCode).toBeNull();

    execFileSync("chattr", ["-i", shm]);
    await until(15_000, async () => ("ok" in (await select(gw)) ? true : undefined));
    expect((await healthz(gw)).status).toBe(200);
    await (await gw.login()).end(); // the side stores answer again too
    expect(await stopGateway(gw)).toBe(0);
  });
});
