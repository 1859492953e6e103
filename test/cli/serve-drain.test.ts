import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.js";
import { LATCH_CLI, startLatchServe } from "../support/latch-serve.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

/**
 * Issue 11 (graceful drain, what a rolling update relies on): on SIGTERM the compiled `latch serve` refuses new
 * connections, lets a statement already running finish and deliver its result, ends idle sessions at once with
 * 57P01, and stops with gateway_stop on record.
 */
const run = promisify(execFile);
let cluster: PgCluster;
let dir: string;
let config: string;
let port: number;

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "trust" });
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-drain-"));
  mkdirSync(path.join(dir, "policies"));
  writeFileSync(
    path.join(dir, "policies", "p.cedar"),
    'permit(principal in Group::"agents", action, resource in Connection::"app");\n',
  );
  port = await freePort();
  config = path.join(dir, "latch.yaml");
  writeFileSync(
    config,
    `listen: { postgres: "127.0.0.1:${port}", admin: "127.0.0.1:${await freePort()}" }
data_dir: ./data
tls: { allow_plaintext: true }
identity: { dev_issuer: true }
policies: ./policies
limits: { drain_timeout: 10s }
connections:
  app: { type: postgres, upstream: "postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}" }
`,
  );
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const client = (token: string) => {
  const c = new pg.Client({ host: "127.0.0.1", port, user: "drain-bot", database: "app", password: token });
  c.on("error", () => undefined);
  return c;
};

describe("latch serve on SIGTERM", () => {
  it("lets the running statement finish, ends idle sessions at once, refuses new connections", async () => {
    const gateway = await startLatchServe(config);
    const exited = new Promise<number | null>((resolve) => gateway.once("exit", resolve));
    const token = (
      await run(process.execPath, [
        LATCH_CLI,
        "token",
        "--config",
        config,
        "--sub",
        "drain-bot",
        "--group",
        "agents",
      ])
    ).stdout.trim();
    const busy = client(token);
    const idle = client(token);
    await busy.connect();
    await idle.connect();
    const idleEnded = new Promise<Error>((resolve) => idle.once("error", resolve));

    const started = Date.now();
    const running = busy.query("SELECT pg_sleep(1.5), 42 AS answer");
    await new Promise((resolve) => setTimeout(resolve, 300));
    gateway.kill("SIGTERM");

    const idleError = (await idleEnded) as Error & { code?: string };
    expect(idleError.code).toBe("57P01");
    expect(Date.now() - started).toBeLessThan(1500); // not held until the busy one finished
    // The listener is closed: a new client is refused, not queued.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve("connected");
      });
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
    });
    expect(refused).toBe("ECONNREFUSED");

    const result = await running;
    expect(result.rows[0].answer).toBe(42);
    expect(await exited).toBe(0);
    const kinds = readFileSync(path.join(dir, "data", "audit.journal"), "utf8")
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { kind: string }).kind);
    expect(kinds.at(-1)).toBe("gateway_stop");
    expect(kinds.filter((kind) => kind === "session_end")).toHaveLength(2);
    await busy.end().catch(() => undefined);
  }, 60_000);
});
