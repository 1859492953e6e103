import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPolicyReplay } from "../../src/cli/commands/policy-replay.js";
import type { ReplayReport } from "../../src/replay/replay-history.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { startTestGateway } from "../support/test-gateway.js";

// Replay of row thresholds (`context.preview.rows`, docs/approvals.md) on a history recorded by real sessions:
// a real PostgreSQL behind the in-process gateway, previews run by it, the audit log in the embedded store.
const RECORDED = `
@id("agents-read")
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
@id("agents-session")
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
@id("small-item-updates")
permit(principal in Group::"agents", action == Action::"sql:update", resource == Table::"app/public.items")
when { context has preview && context.preview.rows <= 3 };
@id("item-writes-need-dba")
@approval("dba")
@preview("true")
permit(principal in Group::"agents", action in Action::"sql:write", resource == Table::"app/public.items");
@id("note-updates")
permit(principal in Group::"agents", action == Action::"sql:update", resource == Table::"app/public.notes");
`;
const threshold = (rows: number) =>
  RECORDED.replace("context.preview.rows <= 3", `context.preview.rows <= ${rows}`);
/** Notes updates now previewed too: the recorded ones never were. */
const PREVIEW_NOTES = RECORDED.replace(
  `@id("note-updates")\npermit`,
  `@id("note-updates")\n@approval("dba")\n@preview("true")\npermit`,
);

let cluster: PgCluster;
let dir: string;
let config: string;

beforeAll(async () => {
  cluster = await startPgCluster();
  const app = new pg.Client({
    connectionString: cluster.superuserUrl.replace(/\/postgres$/, `/${cluster.appDatabase}`),
  });
  await app.connect();
  await app.query(`SET ROLE ${cluster.appUser};
    CREATE TABLE items (id int PRIMARY KEY, name text);
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 10) g;
    CREATE TABLE notes (id int PRIMARY KEY, body text);
    INSERT INTO notes VALUES (1, 'a')`);
  await app.end();
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-preview-replay-"));
  for (const [name, text] of [
    ["tightened", threshold(1)],
    ["loosened", threshold(10)],
    ["preview-notes", PREVIEW_NOTES],
  ] as const) {
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, "candidate.cedar"), text);
  }
  const test = await startTestGateway(cluster, {
    policy: RECORDED,
    overrides: { approvals: { timeout: "20s", mode: "defer" } },
  });
  const client = await test.connect(await test.token("ci-bot", ["agents"]));
  await client.query("UPDATE items SET name = 'one' WHERE id = 1"); // previewed: 1 row, allowed
  await client.query("UPDATE items SET name = 'two' WHERE id <= 2"); // previewed: 2 rows, allowed
  // Previewed: 5 rows, over the threshold: held for a DBA (deferred), recorded with its preview.
  await expect(client.query("UPDATE items SET name = 'five' WHERE id <= 5")).rejects.toThrow(/approv/);
  await client.query("UPDATE notes SET body = 'b' WHERE id = 1"); // no @preview permit: never previewed
  // Extended protocol with a bound parameter: the gateway never previews it (the previewer refuses).
  await client.query("UPDATE notes SET body = $1 WHERE id = 1", ["c"]);
  await client.end();
  await test.gateway.stop();
  config = path.join(dir, "latch.yaml");
  writeFileSync(
    config,
    `data_dir: ${JSON.stringify(test.dataDir)}\npolicies: ${JSON.stringify(path.join(test.dataDir, "policies"))}\n`,
  );
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function replay(candidate: string, json = true) {
  const out: string[] = [];
  const code = await runPolicyReplay(
    { policies: path.join(dir, candidate), config, json, progressEveryMs: 0 },
    { out: (line) => out.push(line), err: () => {} },
  );
  return { code, out, report: json ? (JSON.parse(out.join("\n")) as ReplayReport) : undefined };
}

describe("policy replay with previews", () => {
  it("re-decides previewed writes with the rows their preview counted: a tightened threshold holds the 2-row update", async () => {
    const { code, report } = await replay("tightened");
    expect(code).toBe(0); // held for approval is not a denial
    const updates = 4;
    expect(report!.operations).toBeGreaterThanOrEqual(updates);
    // Without the recorded preview the current policies would hold the updates that ran: drift, not replay.
    expect(report!.driftFromRecorded).toBe(0);
    expect(report!.notRedecidable).toEqual({ count: 0, needsPreview: 0, reasons: {} });
    expect(report!.changes.newly_approval.count).toBe(1);
    const example = report!.changes.newly_approval.groups[0]!.examples[0]!;
    expect(example.statements).toEqual(["UPDATE items SET name = 'two' WHERE id <= 2"]);
    expect(report!.changes.newly_denied.count).toBe(0);
    expect(report!.changes.newly_allowed.count).toBe(0);
  });

  it("the held 5-row update is allowed under a loosened threshold: its preview is on the record too", async () => {
    const { report } = await replay("loosened");
    expect(report!.driftFromRecorded).toBe(0);
    expect(report!.changes.newly_allowed.count).toBe(1);
    expect(report!.changes.newly_allowed.groups[0]!.examples[0]!.statements).toEqual([
      "UPDATE items SET name = 'five' WHERE id <= 5",
    ]);
    expect(report!.changes.newly_approval.count).toBe(0);
  });

  it("says which operations need a preview the record does not have, instead of guessing", async () => {
    const { report } = await replay("preview-notes");
    expect(report!.notRedecidable.count).toBe(1);
    expect(report!.notRedecidable.needsPreview).toBe(1);
    expect(Object.keys(report!.notRedecidable.reasons)).toEqual([
      "needs a preview: never previewed, and a @preview permit of the candidate policies would preview it",
    ]);
    expect(report!.redecided).toBe(report!.operations - 1);
    // The extended-protocol update would get no preview: the candidate holds it for approval without one.
    expect(report!.changes.newly_approval.count).toBe(1);
    expect(report!.changes.newly_approval.groups[0]!.examples[0]!.statements).toEqual([
      "UPDATE notes SET body = $1 WHERE id = 1",
    ]);
    expect(report!.changes.newly_allowed.count).toBe(0);
    const { out } = await replay("preview-notes", false);
    expect(out.join("\n")).toMatch(/not re-decidable: 1\n\s+1 {2}needs a preview/);
  });
});
