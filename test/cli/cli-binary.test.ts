import { type ChildProcess, execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.js";
import { LATCH_CLI, startLatchServe } from "../support/latch-serve.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

// The compiled `latch` executable as users run it (dist/, Node's own ESM loader, the compiled worker thread).
const run = promisify(execFile);
const CLI = LATCH_CLI;

function latch(args: string[], env: NodeJS.ProcessEnv = {}) {
  return run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" before the tests`);
});

describe("latch executable", () => {
  const commands = [
    [],
    ["serve"],
    ["demo"],
    ["token"],
    ["config"],
    ["config", "schema"],
    ["policy", "check"],
    ["policy", "test"],
    ["policy", "reload"],
    ["audit", "verify"],
    ["audit", "search"],
    ["sessions", "list"],
    ["sessions", "show"],
    ["sessions", "play"],
    ["requests", "list"],
    ["requests", "approve"],
    ["grants", "list"],
  ];
  it.each(commands)("%s %s --help exits 0 with usage", async (...command) => {
    const result = await latch([...command.filter(Boolean), "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: latch/);
  });

  it("prints a JSON Schema of the config", async () => {
    const result = await latch(["config", "schema"]);
    const schema = JSON.parse(result.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["listen", "connections", "identity", "masking"]),
    );
  });

  it("refuses an invalid config naming the key and the fix", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "latch-cli-"));
    const file = path.join(dir, "latch.yaml");
    writeFileSync(
      file,
      "connections:\n  prod:\n    type: postgres\n    upstream: postgres://u@db/prod\n    password: hunter2\n",
    );
    const result = await latch(["serve", "--config", file]);
    rmSync(dir, { recursive: true, force: true });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/connections\.prod\.password/);
    expect(result.stderr).toMatch(/\{ env: VAR_NAME \}/);
    expect(result.stderr).not.toContain("hunter2");
  });
});

describe("latch serve (compiled) in front of a real PostgreSQL", () => {
  let cluster: PgCluster;
  let child: ChildProcess;
  let dir: string;
  let port: number;
  let config: string;

  beforeAll(async () => {
    cluster = await startPgCluster({ auth: "scram-sha-256" });
    dir = mkdtempSync(path.join(os.tmpdir(), "latch-serve-"));
    mkdirSync(path.join(dir, "policies"));
    writeFileSync(
      path.join(dir, "policies", "p.cedar"),
      'permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");\n',
    );
    port = await freePort();
    config = path.join(dir, "latch.yaml");
    writeFileSync(
      config,
      `listen: { postgres: "127.0.0.1:${port}", admin: "127.0.0.1:${await freePort()}" }
data_dir: ./data
identity: { dev_issuer: true }
policies: ./policies
connections:
  app:
    type: postgres
    upstream: postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}
    password: { env: APP_DB_PASSWORD }
`,
    );
    child = await startLatchServe(config, { APP_DB_PASSWORD: cluster.appPassword });
  });
  afterAll(async () => {
    child?.kill("SIGTERM");
    await new Promise((r) => child?.once("exit", r));
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves psql with a token from `latch token`, and `latch audit verify` checks the chain", async () => {
    const token = (
      await latch(["token", "--config", config, "--sub", "bot", "--group", "agents"])
    ).stdout.trim();
    const conninfo = `host=127.0.0.1 port=${port} dbname=app user=bot sslmode=require`;
    const ok = await run("psql", [conninfo, "-At", "-c", "SELECT 40 + 2"], {
      env: { ...process.env, PGPASSWORD: token },
    });
    expect(ok.stdout.trim()).toBe("42");
    const denied = await run("psql", [conninfo, "-c", "CREATE TABLE t (x int)"], {
      env: { ...process.env, PGPASSWORD: token },
    }).then(
      () => "",
      (e: { stderr: string }) => e.stderr,
    );
    expect(denied).toMatch(/denied by Latch policy/);
    await new Promise((r) => setTimeout(r, 200)); // the index trails the journal by up to 25 ms
    const verify = await latch(["audit", "verify", "--config", config]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/audit chain OK: \d+ events/);
  });
});
