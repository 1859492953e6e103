/**
 * Preview, then commit on MySQL/MariaDB (docs/approvals.md), end to end: mysql2 through the gateway, the
 * machine's MariaDB behind it, approvers deciding through the admin API. Counts, rollback, the masked sample,
 * refusals and the row ceiling are checked against the database itself.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApprovalRequest } from "../../src/approvals/approval-types.js";
import { LATCH_CLI } from "../support/latch-serve.js";
import { rootConnection, scratchDatabase } from "../support/mariadb.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

const run = promisify(execFile);

let gw: TestGateway;
let db: Awaited<ReturnType<typeof scratchDatabase>>;
let root: mysql.Connection;
let agent: string;
let alice: string;
let port: number;

const policy = (database: string) => `
@id("agents-read")
permit(principal in Group::"agents", action in [Action::"sql:read", Action::"sql:session", Action::"sql:set"], resource in Connection::"shop");
@id("small-item-changes")
permit(principal in Group::"agents", action in [Action::"sql:update", Action::"sql:delete"], resource == Table::"shop/${database}.items")
when { context has preview && context.preview.rows <= 3 };
@id("writes-need-dba")
@approval("dba")
@preview("true")
permit(principal in Group::"agents", action in Action::"sql:write", resource in Connection::"shop");
`;

beforeAll(async () => {
  db = await scratchDatabase(
    "latch_preview",
    `CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(60) NOT NULL) ENGINE=InnoDB;
     INSERT INTO items SELECT seq, CONCAT('item ', seq) FROM seq_1_to_20;
     CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(60), ssn VARCHAR(20), contact VARCHAR(60)) ENGINE=InnoDB;
     INSERT INTO people VALUES (1, 'Ada', '123-45-6789', 'ada@example.com'), (2, 'Bob', '987-65-4321', 'bob@example.com');
     CREATE TABLE logs (id INT PRIMARY KEY, what VARCHAR(60)) ENGINE=MyISAM;
     INSERT INTO logs VALUES (1, 'boot');
     CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(60)) ENGINE=InnoDB;
     CREATE TABLE audited (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
     INSERT INTO audited VALUES (1, 1);
     CREATE TRIGGER audited_touch AFTER UPDATE ON audited FOR EACH ROW SET @touched = 1;`,
  );
  gw = await startTestGateway(undefined, {
    policy: policy(db.name),
    overrides: {
      listen: { mysql: "127.0.0.1:0", admin: "127.0.0.1:0" },
      tls: { allow_plaintext: true },
      approvals: { timeout: "20s", mode: "hold", preview: { sample_rows: 3 } },
      masking: { pii: { columns: ["people.ssn"], detectors: ["email"] } },
      connections: {
        shop: { type: "mysql", upstream: `mysql://root@127.0.0.1:3306/${db.name}`, masking: ["pii"] },
      },
    },
  });
  port = gw.gateway.listeners.get("mysql")?.port ?? 0;
  agent = await gw.token("ci-bot", ["agents"]);
  alice = await gw.token("alice", ["dba"]);
  root = await rootConnection();
  await root.query(`USE \`${db.name}\``);
}, 120_000);

afterAll(async () => {
  await root?.end();
  await gw?.stop();
  await db?.drop();
});

const connect = async (multipleStatements = false) => {
  const connection = await mysql.createConnection({
    host: "127.0.0.1",
    port,
    user: "ci-bot",
    password: agent,
    database: "shop",
    enableCleartextPlugin: true,
    multipleStatements,
  });
  connection.on("error", () => {});
  return connection;
};

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${gw.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${alice}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The pending request holding `statement` (MySQL has no in-band notice: the approver's view is the API). */
async function pendingFor(statement: string): Promise<ApprovalRequest> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { body } = await api("GET", "/api/requests?state=pending");
    const found = (body.requests as ApprovalRequest[]).find((r) => r.statements.includes(statement));
    if (found !== undefined)
      return (await api("GET", `/api/requests/${found.id}`)).body.request as ApprovalRequest;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no pending request for ${statement}`);
}

async function failure(promise: Promise<unknown>): Promise<{ message: string; errno?: number }> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught as { message: string; errno?: number },
  );
  expect(error, "expected the statement to fail").toBeDefined();
  return error!;
}

const names = async (where: string) =>
  ((await root.query(`SELECT name FROM items WHERE ${where} ORDER BY id`))[0] as { name: string }[]).map(
    (row) => row.name,
  );

describe("MySQL preview, then commit", () => {
  it("previews a large update (counts, plan), leaves the table unchanged, and runs it once approved", async () => {
    const client = await connect();
    const text = "UPDATE items SET name = CONCAT(name, ' (bulk)') WHERE id <= 10";
    const result = client.query(text);
    const request = await pendingFor(text);
    const preview = request.preview!;
    expect(preview).toMatchObject({ status: "ran", rows: 10, tagRows: 10, commandTag: "UPDATE 10" });
    if (preview.status !== "ran") return;
    expect(preview.tables).toEqual([{ table: `${db.name}.items`, inserted: 0, updated: 10, deleted: 0 }]);
    expect(preview.plan).toMatch(/items/);
    // No UPDATE ... RETURNING: the matched rows are read back by primary key, after the change.
    expect(preview.sample?.columns).toEqual(["id", "name"]);
    expect(preview.sample?.rows).toHaveLength(3);
    expect(preview.sample?.rows[0]).toEqual(["1", "item 1 (bulk)"]);
    expect(preview.sample?.truncated).toBe(true);
    expect(preview.notes?.join(" ")).toMatch(/read back by primary key/);
    expect((await names("name LIKE '%(bulk)'")).length).toBe(0);
    // The approver's command line shows it as it shows a PostgreSQL preview.
    const shown = await run(process.execPath, [
      LATCH_CLI,
      "requests",
      "show",
      request.id,
      "--server",
      gw.adminUrl,
      "--token",
      alice,
    ]);
    expect(shown.stdout).toMatch(/preview: 10 rows changed \(UPDATE 10\), rolled back/);
    expect(shown.stdout).toContain(`${db.name}.items: 10 updated`);
    expect(shown.stdout).toMatch(
      /sample \(masked, first rows only\):\n\s+id \| name\n\s+1 \| item 1 \(bulk\)/,
    );
    expect((await api("POST", `/api/requests/${request.id}/approve`, { reason: "ok" })).status).toBe(200);
    const [ok] = (await result) as [mysql.ResultSetHeader, unknown];
    expect(ok.affectedRows).toBe(10);
    expect((await names("name LIKE '%(bulk)'")).length).toBe(10);
    // Latch's own transaction was committed and closed: the client is back in autocommit.
    const [rows] = await client.query("SELECT @@in_transaction AS t");
    expect((rows as { t: number }[])[0]!.t).toBe(0);
    await client.end();
  }, 60_000);

  it("lets a small update run at once: the row threshold policy sees context.preview.rows", async () => {
    const client = await connect();
    const [ok] = (await client.query("UPDATE items SET name = 'small change' WHERE id IN (11, 12)")) as [
      mysql.ResultSetHeader,
      unknown,
    ];
    expect(ok.affectedRows).toBe(2);
    expect(await names("id IN (11, 12)")).toEqual(["small change", "small change"]);
    await gw.gateway.flushAudit();
    const recorded = (await gw.gateway.audit.events({ kind: "operation", limit: 1000 })).find((event) =>
      JSON.stringify(event.data).includes("small change"),
    );
    expect(recorded?.data.preview).toMatchObject({ status: "ran", rows: 2, commandTag: "UPDATE 2" });
    await client.end();
  }, 60_000);

  it("shows a masked sample of deleted rows (DELETE ... RETURNING) and keeps them on deny", async () => {
    const client = await connect();
    const text = "DELETE FROM people WHERE id = 1";
    const result = client.query(text);
    const request = await pendingFor(text);
    const preview = request.preview!;
    expect(preview).toMatchObject({ status: "ran", rows: 1, commandTag: "DELETE 1" });
    if (preview.status !== "ran") return;
    expect(preview.tables).toEqual([{ table: `${db.name}.people`, inserted: 0, updated: 0, deleted: 1 }]);
    expect(preview.sample?.columns).toEqual(["id", "name", "ssn", "contact"]);
    const row = preview.sample!.rows[0]!;
    expect(row.slice(0, 2)).toEqual(["1", "Ada"]);
    expect(row[2]).not.toContain("123-45-6789");
    expect(row[3]).not.toContain("ada@example.com");
    expect(JSON.stringify(request)).not.toContain("123-45-6789");
    const refused = failure(result);
    await api("POST", `/api/requests/${request.id}/deny`, { reason: "not today" });
    expect((await refused).errno).toBe(1142);
    const [left] = await root.query("SELECT COUNT(*) AS n FROM people");
    expect((left as { n: number }[])[0]!.n).toBe(2);
    await client.end();
  }, 60_000);

  it.each([
    ["UPDATE logs SET what = 'x' WHERE id = 1", /logs uses the MyISAM engine, which is not transactional/],
    ["UPDATE audited SET v = 2 WHERE id = 1", /audited has triggers/],
  ])(
    "refuses to preview %s, saying why, and the approval still works",
    async (text, reason) => {
      const client = await connect();
      const result = client.query(text);
      const request = await pendingFor(text);
      expect(request.preview).toMatchObject({ status: "refused", reason: expect.stringMatching(reason) });
      expect((await api("POST", `/api/requests/${request.id}/approve`, {})).status).toBe(200);
      const [ok] = (await result) as [mysql.ResultSetHeader, unknown];
      expect(ok.affectedRows).toBe(1);
      await client.end();
    },
    60_000,
  );

  it("refuses to preview an INSERT that draws an AUTO_INCREMENT value, and nothing is drawn early", async () => {
    const client = await connect();
    const text = "INSERT INTO events (what) VALUES ('deploy')";
    const result = client.query(text);
    const request = await pendingFor(text);
    expect(request.preview).toMatchObject({
      status: "refused",
      reason: expect.stringMatching(/AUTO_INCREMENT values for .*events\.id/),
    });
    expect((await api("POST", `/api/requests/${request.id}/approve`, {})).status).toBe(200);
    const [ok] = (await result) as [mysql.ResultSetHeader, unknown];
    expect(ok.insertId).toBe(1);
    await client.end();
  }, 60_000);

  it("refuses to preview several statements in one query", async () => {
    const client = await connect(true);
    const text = "UPDATE items SET name = 'a' WHERE id = 1; UPDATE items SET name = 'b' WHERE id = 2";
    const result = client.query(text);
    const { body } = await api("GET", "/api/requests?state=pending");
    let request: ApprovalRequest | undefined;
    for (let attempt = 0; attempt < 200 && request === undefined; attempt++) {
      const listed = (await api("GET", "/api/requests?state=pending")).body.requests as ApprovalRequest[];
      const found = listed.find((r) => r.statements.length === 2);
      if (found !== undefined)
        request = (await api("GET", `/api/requests/${found.id}`)).body.request as ApprovalRequest;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(body).toBeDefined();
    expect(request?.preview).toMatchObject({
      status: "refused",
      reason: expect.stringMatching(/one statement/),
    });
    const refused = failure(result);
    await api("POST", `/api/requests/${request!.id}/deny`, { reason: "no" });
    await refused;
    expect(await names("id IN (1, 2)")).toEqual(["item 1 (bulk)", "item 2 (bulk)"]);
    await client.end();
  }, 60_000);

  it("rolls back and refuses the approved run when a concurrent insert pushes it over the previewed rows", async () => {
    await root.query("UPDATE items SET name = 'crowd' WHERE id BETWEEN 13 AND 20");
    const client = await connect();
    const text = "UPDATE items SET name = 'crowd, renamed' WHERE name = 'crowd'";
    const result = client.query(text);
    const request = await pendingFor(text);
    expect(request.preview).toMatchObject({ status: "ran", rows: 8 });
    await root.query("INSERT INTO items VALUES (21, 'crowd')");
    expect((await api("POST", `/api/requests/${request.id}/approve`, {})).status).toBe(200);
    const error = await failure(result);
    expect(error.message).toMatch(
      /changed 9 rows, more than its preview showed \(8, ceiling 8, request req_/,
    );
    expect(error.message).toMatch(/row_ceiling_exceeded/);
    expect(await names("name = 'crowd, renamed'")).toEqual([]);
    const [rows] = await client.query("SELECT COUNT(*) AS n, @@in_transaction AS t FROM items");
    expect((rows as { n: number; t: number }[])[0]).toEqual({ n: 21, t: 0 });
    await client.end();
  }, 60_000);

  it("inside the client's own transaction, a run over the ceiling rolls that transaction back", async () => {
    const client = await connect();
    await client.query("START TRANSACTION");
    await client.query("UPDATE items SET name = 'kept?' WHERE id = 11");
    const text = "UPDATE items SET name = 'crowd, again' WHERE name = 'crowd'";
    const result = client.query(text);
    const request = await pendingFor(text);
    await root.query("INSERT INTO items VALUES (22, 'crowd')");
    await api("POST", `/api/requests/${request.id}/approve`, {});
    expect((await failure(result)).message).toMatch(/changed 10 rows, more than its preview showed \(9/);
    expect((await failure(client.query("SELECT 1"))).message).toMatch(/transaction_rolled_back/);
    await client.query("ROLLBACK");
    expect(await names("name = 'crowd, again' OR name = 'kept?'")).toEqual([]);
    const [rows] = await client.query("SELECT COUNT(*) AS n FROM items");
    expect((rows as { n: number }[])[0]!.n).toBe(22);
    await client.end();
  }, 60_000);

  it("commits an approved run within the ceiling when the client is in a transaction", async () => {
    const client = await connect();
    await client.query("START TRANSACTION");
    const text = "UPDATE items SET name = 'crowd, committed' WHERE name = 'crowd'";
    const result = client.query(text);
    const request = await pendingFor(text);
    await api("POST", `/api/requests/${request.id}/approve`, {});
    const [ok] = (await result) as [mysql.ResultSetHeader, unknown];
    expect(ok.affectedRows).toBe(10);
    // Not committed yet: the client's transaction decides.
    expect((await names("name = 'crowd, committed'")).length).toBe(0);
    await client.query("COMMIT");
    expect((await names("name = 'crowd, committed'")).length).toBe(10);
    await client.end();
  }, 60_000);
});

describe("MySQL preview in defer mode", () => {
  let deferGw: TestGateway;
  let deferPort: number;

  beforeAll(async () => {
    deferGw = await startTestGateway(undefined, {
      policy: policy(db.name),
      overrides: {
        listen: { mysql: "127.0.0.1:0", admin: "127.0.0.1:0" },
        tls: { allow_plaintext: true },
        approvals: { timeout: "20s", mode: "defer" },
        connections: { shop: { type: "mysql", upstream: `mysql://root@127.0.0.1:3306/${db.name}` } },
      },
    });
    deferPort = deferGw.gateway.listeners.get("mysql")?.port ?? 0;
  }, 60_000);
  afterAll(async () => deferGw?.stop());

  it("holds the re-run after approval to the ceiling of the preview its approver saw", async () => {
    await root.query("DELETE FROM items WHERE id > 20");
    await root.query("UPDATE items SET name = 'later' WHERE id BETWEEN 1 AND 5");
    const client = await mysql.createConnection({
      host: "127.0.0.1",
      port: deferPort,
      user: "ci-bot",
      password: await deferGw.token("ci-bot", ["agents"]),
      database: "shop",
      enableCleartextPlugin: true,
    });
    const text = "UPDATE items SET name = 'later, done' WHERE name = 'later'";
    const first = await failure(client.query(text));
    const id = /request (req_[A-Za-z0-9_-]+)/.exec(first.message)?.[1];
    expect(id, first.message).toBeDefined();
    const dba = await deferGw.token("alice", ["dba"]);
    const decide = (path: string) =>
      fetch(`${deferGw.adminUrl}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${dba}`, "content-type": "application/json" },
        body: "{}",
      });
    const seen = await fetch(`${deferGw.adminUrl}/api/requests/${id}`, {
      headers: { authorization: `Bearer ${dba}` },
    });
    expect(((await seen.json()) as { request: ApprovalRequest }).request.preview).toMatchObject({
      status: "ran",
      rows: 5,
    });
    expect((await decide(`/api/requests/${id}/approve`)).status).toBe(200);
    // Another session adds a matching row after the approver looked: the re-run would change 6.
    await root.query("INSERT INTO items VALUES (23, 'later')");
    const error = await failure(client.query(text));
    expect(error.message).toMatch(
      new RegExp(`changed 6 rows, more than its preview showed \\(5, ceiling 5, request ${id}\\)`),
    );
    expect(await names("name = 'later, done'")).toEqual([]);
    await client.end();
  }, 60_000);
});
