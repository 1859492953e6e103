import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReplicaSet, type Replica, type ReplicaSet } from "../support/latch-replicas.js";
import { LATCH_CLI } from "../support/latch-serve.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

/**
 * `latch serve --workers 2` (compiled) on a real PostgreSQL store: two gateway processes share the listeners,
 * each a replica of its own on the store, so sessions, kills and denials work across them as across hosts; the
 * primary restarts a worker killed with SIGKILL and drains both on SIGTERM.
 */

const POLICY = `
@id("agents-read")
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
@id("agents-session")
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
`;

let cluster: PgCluster;
let set: ReplicaSet;
let gateway: Replica;
let admin: string;
let agent: string;
let log = "";
const clients: pg.Client[] = [];

interface ServingLine {
  workers: number;
  pids: number[];
  gatewayIds: string[];
}

/** The JSON log lines with this message, parsed. */
function logLines<T>(msg: string): T[] {
  return log
    .split("\n")
    .filter((line) => line.includes(`"msg":"${msg}"`))
    .map((line) => JSON.parse(line) as T);
}

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "scram-sha-256" });
  const app = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: cluster.appUser,
    password: cluster.appPassword,
    database: cluster.appDatabase,
  });
  await app.connect();
  await app.query(`CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5) g`);
  await app.end();
  set = await createReplicaSet(cluster, { policy: POLICY });
  gateway = await set.add("workers");
  await gateway.start({
    args: ["--workers", "2"],
    ready: "2 workers serving",
    timeoutMs: 60_000,
    onStderr: (text) => {
      log += text;
    },
  });
  [admin, agent] = await Promise.all([set.token("root", ["latch-admins"]), set.token("bot", ["agents"])]);
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  await set?.stop();
  await cluster?.stop();
});

/** The live sessions on the store, as `latch sessions list --live --json` prints them. */
async function liveSessions(): Promise<{ id: string; gatewayId: string; subject: string }[]> {
  const result = await set.cli([
    "sessions",
    "list",
    "--live",
    "--json",
    "--server",
    gateway.adminUrl,
    "--token",
    admin,
  ]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

/** DELETE /api/sessions/:id on a fresh TCP connection, so that the cluster hands it to either worker. */
function killSession(id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${gateway.adminUrl}/api/sessions/${id}`,
      { method: "DELETE", agent: false, headers: { authorization: `Bearer ${admin}` } },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      },
    );
    request.on("error", reject);
    request.end();
  });
}

async function openSessions(count: number): Promise<pg.Client[]> {
  const opened: pg.Client[] = [];
  for (let i = 0; i < count; i++) opened.push(await gateway.connect(agent, "bot"));
  clients.push(...opened);
  return opened;
}

/** The ids of the live sessions of subject "bot", by gateway id. */
async function sessionsByGateway(): Promise<Map<string, string[]>> {
  const byGateway = new Map<string, string[]>();
  for (const session of await liveSessions()) {
    if (session.subject !== "bot") continue;
    byGateway.set(session.gatewayId, [...(byGateway.get(session.gatewayId) ?? []), session.id]);
  }
  return byGateway;
}

function ended(client: pg.Client): Promise<void> {
  return new Promise((resolve) => client.once("end", () => resolve()));
}

describe("latch serve --workers 2 on the PostgreSQL store", () => {
  it("says how many workers serve; each is its own process and its own replica", () => {
    const [serving] = logLines<ServingLine>("2 workers serving");
    expect(serving?.workers).toBe(2);
    const pids = serving!.pids;
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(gateway.process?.pid);
    expect(new Set(serving!.gatewayIds).size).toBe(2);
    // Each worker logged its own "gateway ready" with its gateway id.
    const ready = logLines<{ pid: number; gatewayId: string }>("gateway ready");
    expect(new Set(ready.map((line) => line.gatewayId))).toEqual(new Set(serving!.gatewayIds));
    expect(new Set(ready.map((line) => line.pid))).toEqual(new Set(pids));
  });

  it("/metrics on the shared admin port answers for every worker, each series labelled with its number", async () => {
    const scrape = () =>
      new Promise<string>((resolve, reject) => {
        http
          .get(`${gateway.adminUrl}/metrics`, { agent: false }, (response) => {
            let body = "";
            response.on("data", (chunk: Buffer) => {
              body += chunk.toString();
            });
            response.on("end", () => resolve(body));
          })
          .on("error", reject);
      });
    // Several scrapes, so that more than one worker takes one: each answers with both.
    for (const text of await Promise.all([scrape(), scrape(), scrape(), scrape()])) {
      const workers = new Set([...text.matchAll(/worker="(\d+)"/g)].map((match) => match[1]));
      expect(workers).toEqual(new Set(["0", "1"]));
      // One process's series per worker, not a sum: each worker's own CPU counter is there.
      expect(text).toMatch(/process_cpu_user_seconds_total\{worker="0"\} \d/);
      expect(text).toMatch(/process_cpu_user_seconds_total\{worker="1"\} \d/);
    }
  });

  it("sessions land on both workers; a statement denied by policy is denied on each, and the session goes on", async () => {
    const opened = await openSessions(4);
    const byGateway = await sessionsByGateway();
    const [serving] = logLines<ServingLine>("2 workers serving");
    expect(new Set(byGateway.keys())).toEqual(new Set(serving!.gatewayIds));
    for (const client of opened) {
      await expect(client.query("DELETE FROM items WHERE id = 1")).rejects.toMatchObject({ code: "42501" });
      expect((await client.query("SELECT count(*)::int AS n FROM items")).rows[0].n).toBe(5);
    }
    const denials = await set.cli([
      "audit",
      "search",
      "--config",
      gateway.config,
      "--kind",
      "operation",
      "--decision",
      "deny",
      "--json",
    ]);
    expect(denials.code, denials.stderr).toBe(0);
    expect(JSON.parse(denials.stdout)).toHaveLength(4);
  }, 60_000); // four sessions and a CLI run: ~10 s quiet, near 30 s on a loaded 2-core machine

  it("a kill through the admin API reaches a session on the other worker", async () => {
    // A new connection to the admin port goes to either worker; a kill of a session the answering worker does
    // not serve is 202 (told through the store). Kills go on until one of them crossed.
    const statuses: number[] = [];
    for (let round = 0; round < 5 && !statuses.includes(202); round++) {
      const opened = await openSessions(2);
      const ids = new Set((await liveSessions()).map((session) => session.id));
      const byGateway = await sessionsByGateway();
      const endings = opened.map(ended);
      for (const sessions of byGateway.values())
        for (const id of sessions) if (ids.has(id)) statuses.push(await killSession(id));
      await Promise.all(endings);
    }
    expect(statuses).toContain(202);
    for (const status of statuses) expect([200, 202]).toContain(status);
    await expect.poll(async () => (await sessionsByGateway()).size, { timeout: 5000 }).toBe(0);
  });

  it("a worker killed with SIGKILL is restarted, and new sessions work on both workers", async () => {
    const [serving] = logLines<ServingLine>("2 workers serving");
    const victim = serving!.pids[0]!;
    process.kill(victim, "SIGKILL");
    await expect
      .poll(() => logLines<{ pid: number }>("worker restarted and serving").length, { timeout: 60_000 })
      .toBe(1);
    const [restarted] = logLines<{ pid: number; gatewayId: string }>("worker restarted and serving");
    expect(restarted!.pid).not.toBe(victim);
    expect(logLines<{ signal: string }>("worker died; restarting it")[0]?.signal).toBe("SIGKILL");
    const opened = await openSessions(4);
    for (const client of opened) expect((await client.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    const byGateway = await sessionsByGateway();
    expect(new Set(byGateway.keys())).toEqual(new Set([serving!.gatewayIds[1], restarted!.gatewayId]));
  }, 90_000);

  it("SIGTERM drains every worker (each records gateway_stop) and the primary exits 0", async () => {
    const child = gateway.process!;
    const opened = await openSessions(2);
    const endings = opened.map(ended);
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
    await Promise.all(endings);
    const stops = await set.cli([
      "audit",
      "search",
      "--config",
      gateway.config,
      "--kind",
      "gateway_stop",
      "--json",
    ]);
    expect(stops.code, stops.stderr).toBe(0);
    expect(JSON.parse(stops.stdout)).toHaveLength(2);
  }, 60_000);
});

/** Runs `latch serve ARGS` to its exit: code, stderr and how long it took. */
function serveUntilExit(
  args: readonly string[],
): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [LATCH_CLI, "serve", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) =>
    child.once("exit", (code) => resolve({ code, stderr, ms: Date.now() - started })),
  );
}

describe("latch serve --workers refused or given up", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "latch-workers-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses more than one worker on the embedded SQLite store, naming the fix, before forking", async () => {
    const config = path.join(dir, "sqlite.yaml");
    writeFileSync(config, `data_dir: ${path.join(dir, "data")}\nserver: { workers: 2 }\n`);
    const runs = [["--config", config]];
    // auto is one per CPU: refused too wherever that is more than one.
    if (os.availableParallelism() > 1) runs.push(["--config", config, "--workers", "auto"]);
    for (const args of runs) {
      const result = await serveUntilExit(args);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/need a shared store: set store: postgres:\/\//);
      expect(result.stderr).not.toMatch(/starting \d+ workers/);
    }
  }, 30_000);

  it("exits non-zero when the workers keep failing at start, instead of restarting them forever", async () => {
    const config = path.join(dir, "unreachable.yaml");
    // Nothing listens on port 1: every worker fails to open its store.
    writeFileSync(
      config,
      `data_dir: ${path.join(dir, "data2")}\nstore: postgres://latch@127.0.0.1:1/latch\nserver: { workers: 2 }\n`,
    );
    const result = await serveUntilExit(["--config", config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/starting 2 workers/);
    expect(result.stderr).toMatch(/failed at start again and again/);
    expect(result.stderr).not.toMatch(/workers serving/);
  }, 90_000);
});
