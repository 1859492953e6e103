import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPolicyReplay } from "../../src/cli/commands/policy-replay.js";
import type { ReplayReport } from "../../src/replay/replay-history.js";
import { scratchDatabase } from "../support/mariadb.js";
import { startTestGateway } from "../support/test-gateway.js";

// Replay of row thresholds on a history recorded by real MySQL sessions: mysql2 through the in-process gateway,
// the machine's MariaDB behind it, previews run by the gateway, the audit log in the embedded store. A MySQL
// write sent as a plain query is previewed like a PostgreSQL simple Query, so one never previewed is not
// re-decided for a set that would now preview it; a prepared statement is never previewed (the previewer
// refuses it), so it is re-decided without a preview, as it would be decided.
const recorded = (database: string) => `
@id("agents-session")
permit(principal in Group::"agents", action in [Action::"sql:read", Action::"sql:session", Action::"sql:set"], resource in Connection::"shop");
@id("small-item-updates")
permit(principal in Group::"agents", action == Action::"sql:update", resource == Table::"shop/${database}.items")
when { context has preview && context.preview.rows <= 3 };
@id("item-writes-need-dba")
@approval("dba")
@preview("true")
permit(principal in Group::"agents", action in Action::"sql:write", resource == Table::"shop/${database}.items");
@id("note-updates")
permit(principal in Group::"agents", action == Action::"sql:update", resource == Table::"shop/${database}.notes");
`;

let db: Awaited<ReturnType<typeof scratchDatabase>>;
let dir: string;
let config: string;

beforeAll(async () => {
  db = await scratchDatabase(
    "latch_replay",
    `CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(60)) ENGINE=InnoDB;
     INSERT INTO items SELECT seq, CONCAT('item ', seq) FROM seq_1_to_10;
     CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(60)) ENGINE=InnoDB;
     INSERT INTO notes VALUES (1, 'a');`,
  );
  const policy = recorded(db.name);
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-mysql-preview-replay-"));
  const candidates = {
    tightened: policy.replace("context.preview.rows <= 3", "context.preview.rows <= 1"),
    // Notes updates now previewed and held too: the recorded ones never were.
    "preview-notes": policy.replace(
      `@id("note-updates")\npermit`,
      `@id("note-updates")\n@approval("dba")\n@preview("true")\npermit`,
    ),
  };
  for (const [name, text] of Object.entries(candidates)) {
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, "candidate.cedar"), text);
  }
  const test = await startTestGateway(undefined, {
    policy,
    overrides: {
      listen: { mysql: "127.0.0.1:0", admin: "127.0.0.1:0" },
      tls: { allow_plaintext: true },
      approvals: { timeout: "20s", mode: "defer" },
      connections: { shop: { type: "mysql", upstream: `mysql://root@127.0.0.1:3306/${db.name}` } },
    },
  });
  const client = await mysql.createConnection({
    host: "127.0.0.1",
    port: test.gateway.listeners.get("mysql")?.port ?? 0,
    user: "ci-bot",
    password: await test.token("ci-bot", ["agents"]),
    database: "shop",
    enableCleartextPlugin: true,
  });
  client.on("error", () => {});
  await client.query("UPDATE items SET name = 'one' WHERE id = 1"); // previewed: 1 row, allowed
  await client.query("UPDATE items SET name = 'two' WHERE id <= 2"); // previewed: 2 rows, allowed
  // Previewed: 5 rows, over the threshold: held for a DBA (deferred), recorded with its preview.
  await expect(client.query("UPDATE items SET name = 'five' WHERE id <= 5")).rejects.toThrow(/approv/);
  await client.query("UPDATE notes SET body = 'b' WHERE id = 1"); // no @preview permit: never previewed
  await client.execute("UPDATE notes SET body = ? WHERE id = 1", ["c"]); // prepared: never previewable
  await client.end();
  await test.gateway.stop();
  config = path.join(dir, "latch.yaml");
  writeFileSync(
    config,
    `data_dir: ${JSON.stringify(test.dataDir)}\npolicies: ${JSON.stringify(path.join(test.dataDir, "policies"))}\n`,
  );
}, 120_000);

afterAll(async () => {
  await db?.drop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function replay(candidate: string): Promise<ReplayReport> {
  const out: string[] = [];
  const code = await runPolicyReplay(
    { policies: path.join(dir, candidate), config, json: true, progressEveryMs: 0 },
    { out: (line) => out.push(line), err: () => {} },
  );
  expect(code).toBe(0); // held for approval is not a denial
  return JSON.parse(out.join("\n")) as ReplayReport;
}

describe("policy replay with MySQL previews", () => {
  it("re-decides previewed MySQL writes with the rows their preview counted", async () => {
    const report = await replay("tightened");
    expect(report.driftFromRecorded).toBe(0);
    expect(report.notRedecidable).toEqual({ count: 0, needsPreview: 0, reasons: {} });
    expect(report.changes.newly_approval.count).toBe(1);
    expect(report.changes.newly_approval.groups[0]!.examples[0]!.statements).toEqual([
      "UPDATE items SET name = 'two' WHERE id <= 2",
    ]);
    expect(report.changes.newly_allowed.count + report.changes.newly_denied.count).toBe(0);
  });

  it("a plain-query write never previewed is not re-decided for a set that would preview it; a prepared one is", async () => {
    const report = await replay("preview-notes");
    expect(report.notRedecidable).toEqual({
      count: 1,
      needsPreview: 1,
      reasons: {
        "needs a preview: never previewed, and a @preview permit of the candidate policies would preview it": 1,
      },
    });
    // The prepared update: its preview would be refused, so the candidate holds it for approval without one.
    expect(report.changes.newly_approval.count).toBe(1);
    expect(report.changes.newly_approval.groups[0]!.examples[0]!.statements).toEqual([
      "UPDATE notes SET body = ? WHERE id = 1",
    ]);
    expect(report.redecided).toBe(report.operations - 1);
  });
});
