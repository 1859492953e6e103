import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPolicyReplay } from "../../src/cli/commands/policy-replay.js";
import { runPolicySuggest } from "../../src/cli/commands/policy-suggest.js";
import { loadConfig } from "../../src/config/load-config.js";
import { createCedarPolicyEngine } from "../../src/policy/create-cedar-engine.js";
import { parsePolicySources } from "../../src/policy/load-policies.js";
import { requestOfInput } from "../../src/policy/recorded-input.js";
import { IdentityInterner, recordedHistory } from "../../src/replay/recorded-operations.js";
import type { ReplayReport } from "../../src/replay/replay-history.js";
import { openAuditReader } from "../../src/store/open-audit-reader.js";
import { openSqliteStores } from "../../src/store/open-stores.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { startTestGateway, TEST_POLICY } from "../support/test-gateway.js";

// Replay on a history recorded by real sessions: a real PostgreSQL behind the in-process gateway, node-postgres
// clients, the audit log in the embedded SQLite store and in the PostgreSQL store; then `latch policy replay`
// against a tightened and a loosened policy set.
let cluster: PgCluster;
let dir: string;
const stores: { name: string; config: string }[] = [];

const TIGHTENED = TEST_POLICY.replace(
  `permit(principal in Group::"writers", action in Action::"sql:write", resource in Connection::"app");`,
  `permit(principal in Group::"writers", action == Action::"sql:insert", resource in Connection::"app");`,
);
const LOOSENED = `${TEST_POLICY.replace(
  `@id("no-secrets")\nforbid(principal, action, resource == Table::"app/public.secrets");`,
  "",
)}
@id("agents-write-needs-dba")
@approval("dba")
permit(principal in Group::"agents", action == Action::"sql:insert", resource in Connection::"app");
`;

async function recordHistory(name: string, overrides: Record<string, unknown>): Promise<void> {
  const test = await startTestGateway(cluster, { overrides });
  const alice = await test.connect(await test.token("alice", ["agents"]));
  await alice.query("SELECT count(*) FROM orders");
  await alice.query("SELECT count(*) FROM orders WHERE id > 0");
  await expect(alice.query("SELECT * FROM secrets")).rejects.toThrow(/forbidden/);
  await expect(alice.query("INSERT INTO orders (item) VALUES ('x')")).rejects.toThrow(/not permitted/);
  await alice.end();
  const bob = await test.connect(await test.token("bob", ["agents", "writers"]));
  await bob.query("INSERT INTO orders (item) VALUES ('pen')");
  await bob.query("UPDATE orders SET item = 'pencil' WHERE item = 'pen'");
  await bob.query("UPDATE orders SET item = 'ink' WHERE item = 'pencil'");
  await bob.end();
  await test.gateway.stop();
  const config = path.join(dir, `${name}.yaml`);
  const store = overrides.store === undefined ? "" : `store: ${JSON.stringify(overrides.store)}\n`;
  writeFileSync(
    config,
    `data_dir: ${JSON.stringify(test.dataDir)}\npolicies: ${JSON.stringify(path.join(test.dataDir, "policies"))}\n${store}`,
  );
  stores.push({ name, config });
}

beforeAll(async () => {
  cluster = await startPgCluster();
  const app = new pg.Client({
    connectionString: cluster.superuserUrl.replace(/\/postgres$/, `/${cluster.appDatabase}`),
  });
  await app.connect();
  await app.query(`SET ROLE ${cluster.appUser}; CREATE TABLE orders (id serial PRIMARY KEY, item text);
    CREATE TABLE secrets (id int, value text)`);
  await app.end();
  await cluster.query("CREATE DATABASE latchstore", []);
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-replay-"));
  for (const [name, text] of [
    ["tightened", TIGHTENED],
    ["loosened", LOOSENED],
  ] as const) {
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, "candidate.cedar"), text);
  }
  await recordHistory("sqlite", {});
  const superuser = new URL(cluster.superuserUrl);
  process.env.LATCH_REPLAY_STORE_PW = decodeURIComponent(superuser.password);
  await recordHistory("postgres", {
    store: {
      url: `postgres://${superuser.username}@127.0.0.1:${cluster.port}/latchstore`,
      password: { env: "LATCH_REPLAY_STORE_PW" },
    },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function replay(config: string, candidate: string, extra: Record<string, unknown> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runPolicyReplay(
    { policies: path.join(dir, candidate), config, json: true, progressEveryMs: 0, ...extra },
    { out: (line) => out.push(line), err: (line) => err.push(line) },
  );
  return { code, report: JSON.parse(out.join("\n")) as ReplayReport, err };
}

describe.each(["sqlite", "postgres"])("policy replay on the %s store", (name) => {
  const config = () => stores.find((store) => store.name === name)!.config;

  it("a tightened policy: the updates that ran are newly denied, a regression (exit 1)", async () => {
    const { code, report, err } = await replay(config(), "tightened");
    expect(code).toBe(1);
    expect(report.operations).toBe(report.redecided);
    expect(report.notRedecidable.count).toBe(0);
    expect(report.driftFromRecorded).toBe(0);
    expect(report.changes.newly_denied.count).toBe(2);
    expect(report.changes.newly_denied.groups).toEqual([
      expect.objectContaining({ principal: "bob", action: "sql:update", count: 2 }),
    ]);
    const example = report.changes.newly_denied.groups[0]!.examples[0]!;
    expect(example.statements).toEqual(["UPDATE orders SET item = 'pencil' WHERE item = 'pen'"]);
    expect(example.reason).toMatch(/sql:update on table public.orders is not permitted for bob/);
    expect(report.changes.newly_allowed.count).toBe(0);
    expect(report.regressions.count).toBe(2);
    expect(err.some((line) => /events read/.test(line))).toBe(true);
    expect((await replay(config(), "tightened", { allowRegressions: true })).code).toBe(0);
  });

  it("a loosened policy: the forbidden read is newly allowed, the refused insert newly needs approval", async () => {
    const { code, report } = await replay(config(), "loosened");
    expect(code).toBe(0);
    expect(report.changes.newly_denied.count).toBe(0);
    expect(report.changes.newly_allowed.groups).toEqual([
      expect.objectContaining({ principal: "alice", action: "sql:select", count: 1 }),
    ]);
    expect(report.changes.newly_allowed.groups[0]!.examples[0]!.statements).toEqual([
      "SELECT * FROM secrets",
    ]);
    expect(report.changes.newly_approval.groups).toEqual([
      expect.objectContaining({ principal: "alice", action: "sql:insert", count: 1 }),
    ]);
    expect(report.regressions.count).toBe(0);
  });

  it("filters by principal and connection, and by time window", async () => {
    const bob = (await replay(config(), "loosened", { principal: "bob" })).report;
    expect(bob.changes.newly_allowed.count + bob.changes.newly_approval.count).toBe(0);
    expect(bob.operations).toBeGreaterThan(0);
    const nowhere = (await replay(config(), "tightened", { connection: "other" })).report;
    expect(nowhere.operations).toBe(0);
    const future = await replay(config(), "tightened", { since: "2999-01-01T00:00:00Z" });
    expect(future.report.operations).toBe(0);
    expect(future.code).toBe(0);
  });
});

describe("events recorded before operations carried their policy input", () => {
  it("are counted and reported as not re-decidable; the rest is re-decided", async () => {
    const sqlite = stores.find((store) => store.name === "sqlite")!.config;
    const { report: before } = await replay(sqlite, "tightened");
    const config = loadConfig(sqlite).config;
    const opened = await openSqliteStores(config.data_dir);
    await opened.audit.append([
      {
        kind: "operation",
        sessionId: null,
        data: {
          operationId: "legacy-1",
          mode: "simple",
          statements: [{ text: "SELECT 1", verb: "sql:select", tablesRead: [], tablesWritten: [] }],
          verdict: { decision: "allow", rules: ["agents-read"], reason: "allowed" },
        },
      },
    ]);
    await opened.close();
    const { report } = await replay(sqlite, "tightened");
    expect(report.operations).toBe(before.operations + 1);
    expect(report.redecided).toBe(before.redecided);
    expect(report.notRedecidable).toEqual({
      count: 1,
      needsPreview: 0,
      reasons: { "recorded before operations carried their policy input": 1 },
    });
  });
});

describe.each(["sqlite", "postgres"])("policy suggest on the %s store", (name) => {
  it("suggests valid Cedar that allows everything bob did and not what he did not", async () => {
    const config = stores.find((store) => store.name === name)!.config;
    const out: string[] = [];
    const code = await runPolicySuggest(
      { principal: "bob", config },
      { out: (line) => out.push(line), err: () => {} },
    );
    expect(code).toBe(0);
    const text = out.join("\n");
    expect(text).toContain("// sql:update on tables of connection app: 2 times");
    expect(text).toContain('action == Action::"sql:insert"');
    const engine = createCedarPolicyEngine(parsePolicySources([{ file: "suggested.cedar", text }]));
    const opened = openAuditReader(loadConfig(config).config);
    const interner = new IdentityInterner();
    let bobRan = 0;
    let others = 0;
    try {
      for await (const item of recordedHistory(opened.reader)) {
        if (item.kind !== "operation" || typeof item.operation.input === "string") continue;
        const input = item.operation.input;
        const request = requestOfInput(input, interner.identityOf(input));
        if (input.subject === "bob" && item.operation.recorded === "allow") {
          bobRan += 1;
          expect(engine.authorize(request).decision, item.operation.texts.join(";")).toBe("allow");
          // The same operation on a table bob never touched, or as a verb he never used, is not allowed.
          const elsewhere = {
            ...request,
            steps: request.steps.map((step) => ({
              ...step,
              accesses: step.accesses.map((access) =>
                access.resource.type === "Table"
                  ? { ...access, resource: { type: "Table" as const, name: "public.secrets" } }
                  : { ...access, action: "sql:ddl" },
              ),
            })),
          };
          expect(engine.authorize(elsewhere).decision).toBe("deny");
          const deleting = {
            ...request,
            steps: request.steps.map((step) => ({
              ...step,
              accesses: step.accesses.map((access) => ({ ...access, action: "sql:delete" })),
            })),
          };
          expect(engine.authorize(deleting).decision).toBe("deny");
        } else if (input.subject !== "bob") {
          others += 1;
          expect(engine.authorize(request).decision).toBe("deny");
        }
      }
    } finally {
      await opened.close();
    }
    expect(bobRan).toBe(3);
    expect(others).toBeGreaterThan(0);
  });
});

describe("policy suggest and replay for SSH commands", () => {
  it("names the exact command lines, escaped, and the result compiles and allows only those", async () => {
    const dataDir = mkdtempSync(path.join(dir, "ssh-"));
    const opened = await openSqliteStores(dataDir);
    const commands = ["uptime", "ls -la /var/log", 'echo "quoted \\ back"'];
    await opened.audit.append(
      commands.map((command, index) => ({
        kind: "operation" as const,
        sessionId: "ssh-1",
        data: {
          operationId: `ssh-${index}`,
          mode: "exec",
          statements: [{ text: command, verb: "ssh:exec" }],
          verdict: { decision: "allow", rules: ["ops"], reason: "allowed" },
          policyInput: {
            v: 1,
            subject: "ops-bot",
            issuer: "https://issuer.test",
            groups: ["ops"],
            connection: "web1",
            labels: {},
            clientAddress: "127.0.0.1",
            at: Date.UTC(2026, 10, 30, 12, index),
            steps: [
              {
                action: "ssh:exec",
                accesses: [{ action: "ssh:exec", resource: { type: "Connection" } }],
                facts: { readOnly: false, hasWhere: true, tableCount: 0, command },
              },
            ],
          },
        },
      })),
    );
    await opened.close();
    const config = path.join(dataDir, "latch.yaml");
    writeFileSync(config, `data_dir: ${JSON.stringify(dataDir)}\n`);
    const out: string[] = [];
    expect(
      await runPolicySuggest({ principal: "ops-bot", config }, { out: (l) => out.push(l), err: () => {} }),
    ).toBe(0);
    const text = out.join("\n");
    const engine = createCedarPolicyEngine(parsePolicySources([{ file: "s.cedar", text }]));
    const ask = (command: string) =>
      engine.authorize({
        identity: { subject: "ops-bot", issuer: "https://issuer.test", groups: ["ops"], expiresAt: Infinity },
        connection: "web1",
        connectionLabels: {},
        clientAddress: "127.0.0.1",
        now: new Date(),
        steps: [
          {
            text: command,
            action: "ssh:exec",
            accesses: [{ action: "ssh:exec", resource: { type: "Connection" } }],
            facts: { readOnly: false, hasWhere: true, tableCount: 0, command },
          },
        ],
      }).decision;
    for (const command of commands) expect(ask(command)).toBe("allow");
    expect(ask("rm -rf /")).toBe("deny");
    expect(ask("uptime; rm -rf /")).toBe("deny");

    // Replay re-decides SSH operations too: the suggestion as current policy, a candidate that keeps `uptime`.
    mkdirSync(path.join(dataDir, "current"));
    writeFileSync(path.join(dataDir, "current", "suggested.cedar"), text);
    mkdirSync(path.join(dataDir, "uptime-only"));
    writeFileSync(
      path.join(dataDir, "uptime-only", "p.cedar"),
      `permit(principal == User::"ops-bot", action == Action::"ssh:exec", resource == Connection::"web1")
       when { context.command == "uptime" };`,
    );
    const replayConfig = path.join(dataDir, "replay.yaml");
    writeFileSync(
      replayConfig,
      `data_dir: ${JSON.stringify(dataDir)}\npolicies: ${JSON.stringify(path.join(dataDir, "current"))}\n`,
    );
    const { code, report } = await replay(
      replayConfig,
      path.relative(dir, path.join(dataDir, "uptime-only")),
      {
        since: "2026-11-30T00:00:00Z",
      },
    );
    expect(code).toBe(1);
    expect(report.redecided).toBe(3);
    expect(report.driftFromRecorded).toBe(0);
    expect(report.changes.newly_denied.count).toBe(2);
    expect(report.changes.newly_denied.groups).toMatchObject([
      { principal: "ops-bot", action: "ssh:exec", count: 2 },
    ]);
    expect(report.regressions.examples.map((example) => example.statements[0])).toEqual(commands.slice(1));
  });
});
