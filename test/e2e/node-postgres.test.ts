import net from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

let fx: GatewayFixture;
let agentToken: string;
let writerToken: string;

beforeAll(async () => {
  fx = await startGatewayFixture();
  agentToken = await fx.gw.token("ci-bot", ["agents"]);
  writerToken = await fx.gw.token("etl-job", ["agents", "writers"]);
});
afterAll(async () => fx?.stop());

async function expectPgError(
  promise: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<pg.DatabaseError> {
  const error = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as pg.DatabaseError | undefined;
  expect(error, "expected the statement to fail").toBeDefined();
  expect(error!.code).toBe(code);
  if (message) expect(error!.message).toMatch(message);
  return error!;
}

describe("node-postgres through the gateway (SCRAM upstream, TLS front)", () => {
  it("runs an allowed SELECT in simple and extended protocol", async () => {
    const client = await fx.gw.connect(agentToken);
    const simple = await client.query("SELECT count(*)::int AS n FROM items");
    expect(simple.rows[0].n).toBe(20);
    const extended = await client.query("SELECT name FROM items WHERE id = $1", [7]);
    expect(extended.rows).toEqual([{ name: "item 7" }]);
    const named = await client.query({
      name: "by-id",
      text: "SELECT name FROM items WHERE id = $1",
      values: [3],
    });
    const again = await client.query({
      name: "by-id",
      text: "SELECT name FROM items WHERE id = $1",
      values: [4],
    });
    expect([named.rows[0].name, again.rows[0].name]).toEqual(["item 3", "item 4"]);
    await client.end();
  });

  it("denies a write with 42501 naming the decision, and the session stays usable", async () => {
    const client = await fx.gw.connect(agentToken);
    const error = await expectPgError(
      client.query("DELETE FROM items WHERE id = 1"),
      "42501",
      /denied by Latch policy/,
    );
    expect(error.message).toMatch(/sql:delete/);
    await expectPgError(client.query("DELETE FROM items WHERE id = $1", [2]), "42501");
    const after = await client.query("SELECT count(*)::int AS n FROM items");
    expect(after.rows[0].n).toBe(20);
    await client.end();
    expect((await fx.direct("SELECT count(*)::int AS n FROM items")).rows[0].n).toBe(20);
  });

  it("authorizes a multi-statement query as a whole: nothing runs if any part is denied", async () => {
    const client = await fx.gw.connect(agentToken);
    await expectPgError(client.query("SELECT 1; DELETE FROM items; SELECT 2"), "42501");
    await expectPgError(
      client.query("WITH gone AS (DELETE FROM items RETURNING *) SELECT count(*) FROM gone"),
      "42501",
    );
    await client.end();
    expect((await fx.direct("SELECT count(*)::int AS n FROM items")).rows[0].n).toBe(20);
  });

  it("lets a permitted writer change rows for real, and a forbid beats every permit", async () => {
    const client = await fx.gw.connect(writerToken);
    const updated = await client.query("UPDATE items SET name = $1 WHERE id = $2", ["renamed", 5]);
    expect(updated.rowCount).toBe(1);
    expect((await fx.direct("SELECT name FROM items WHERE id = 5")).rows[0].name).toBe("renamed");
    await expectPgError(client.query("SELECT * FROM secrets"), "42501", /secrets/);
    await expectPgError(client.query("UPDATE secrets SET v = 'x'"), "42501");
    await client.end();
  });

  it("a denial inside a transaction aborts it, so COMMIT keeps nothing", async () => {
    const client = await fx.gw.connect(writerToken);
    await client.query("BEGIN");
    await client.query("INSERT INTO items VALUES (100, 'in doomed tx')");
    await expectPgError(client.query("DROP TABLE items"), "42501");
    await expectPgError(client.query("SELECT 1"), "25P02");
    const commit = await client.query("COMMIT");
    expect(commit.command).toBe("ROLLBACK");
    await client.end();
    expect((await fx.direct("SELECT count(*)::int AS n FROM items WHERE id = 100")).rows[0].n).toBe(0);
  });

  it("tracks SQL-level PREPARE/EXECUTE: EXECUTE is authorized as the statement it runs", async () => {
    const writer = await fx.gw.connect(writerToken);
    await writer.query("PREPARE del(int) AS DELETE FROM items WHERE id = $1");
    await writer.query("EXECUTE del(19)");
    await writer.end();
    const agent = await fx.gw.connect(agentToken);
    await expectPgError(agent.query("PREPARE del2(int) AS DELETE FROM items WHERE id = $1"), "42501");
    await expectPgError(agent.query("EXECUTE del2(18)"), "42501");
    await agent.end();
    expect((await fx.direct("SELECT count(*)::int AS n FROM items WHERE id IN (18, 19)")).rows[0].n).toBe(1);
  });

  it("refuses unparseable SQL before the server sees it", async () => {
    const client = await fx.gw.connect(agentToken);
    await expectPgError(client.query("SELEC oops FROM"), "42601", /could not parse/);
    expect((await client.query("SELECT 1 AS ok")).rows[0].ok).toBe(1);
    await client.end();
  });

  it("relays COPY TO STDOUT for a reader and refuses COPY FROM STDIN without a write permit", async () => {
    const client = await fx.gw.connect(agentToken);
    await expectPgError(client.query("COPY items FROM STDIN"), "42501");
    await client.end();
  });

  it("maps CancelRequest to the right upstream backend", async () => {
    const client = await fx.gw.connect(agentToken);
    const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
    const running = client.query("SELECT count(*) FROM generate_series(1, 300000000)");
    await new Promise((resolve) => setTimeout(resolve, 300));
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(fx.gw.port, "127.0.0.1", () => {
        const frame = Buffer.alloc(16);
        frame.writeInt32BE(16, 0);
        frame.writeInt32BE(80877102, 4);
        frame.writeInt32BE(processID, 8);
        frame.writeInt32BE(secretKey, 12);
        socket.end(frame);
      });
      socket.on("close", () => resolve());
      socket.on("error", reject);
    });
    await expectPgError(running, "57014");
    await client.end();
  });

  it("never shows the upstream user or password in startup parameters", async () => {
    const client = await fx.gw.connect(agentToken);
    const params = (client as unknown as { connection: { parameters?: Record<string, string> } }).connection;
    void params;
    const seen: string[] = [];
    (
      client as unknown as {
        connection: {
          on(e: string, f: (m: { parameterName: string; parameterValue: string }) => void): void;
        };
      }
    ).connection.on("parameterStatus", (m) => seen.push(`${m.parameterName}=${m.parameterValue}`));
    await client.query("SET application_name = 'probe'");
    await client.end();
    await fx.gw.gateway.flushAudit();
    const events = JSON.stringify(await fx.gw.gateway.audit.events({ limit: 1000 }));
    expect(events).not.toContain(fx.cluster.appPassword);
    expect(seen.join(",")).not.toContain(fx.cluster.appUser);
  });
});

describe("identity and connection failures answer in-protocol", () => {
  it("rejects a forged token with 28P01", async () => {
    const forged = `${agentToken.slice(0, -4)}AAAA`;
    const client = new pg.Client(fx.gw.clientConfig(forged));
    await expectPgError(client.connect(), "28P01", /token rejected/);
  });

  it("rejects an expired token with 28P01 and a reason", async () => {
    const expired = await fx.gw.expiredToken("ci-bot", ["agents"], 120);
    const client = new pg.Client(fx.gw.clientConfig(expired));
    await expectPgError(client.connect(), "28P01", /expired/);
  });

  it("rejects an empty password with 28000", async () => {
    const client = new pg.Client({ ...fx.gw.clientConfig(""), password: "" });
    const error = await client.connect().then(
      () => undefined,
      (e: pg.DatabaseError) => e,
    );
    expect(error).toBeDefined();
  });

  it("answers an unknown connection with 3D000 after authentication", async () => {
    const client = new pg.Client(fx.gw.clientConfig(agentToken, "nope"));
    await expectPgError(client.connect(), "3D000", /no connection named "nope"/);
  });

  it("requires TLS unless plaintext is allowed", async () => {
    const client = new pg.Client({ ...fx.gw.clientConfig(agentToken), ssl: false });
    await expectPgError(client.connect(), "28000", /requires TLS/);
  });

  it("refuses replication and role-changing startup options", async () => {
    const replication = new pg.Client({
      ...fx.gw.clientConfig(agentToken),
      replication: "database",
    } as pg.ClientConfig);
    await expectPgError(replication.connect(), "0A000", /replication/);
    const options = new pg.Client({ ...fx.gw.clientConfig(agentToken), options: "-c role=postgres" });
    await expectPgError(options.connect(), "0A000", /options/);
  });

  it("records sessions, verdicts and results in a hash chain that verifies", async () => {
    await fx.gw.gateway.flushAudit();
    const store = fx.gw.gateway.audit;
    const denied = await store.events({ kind: "operation", decision: "deny", limit: 1000 });
    expect(denied.length).toBeGreaterThan(5);
    // forged, expired and empty tokens, and the unknown connection
    expect((await store.events({ kind: "auth_failure", limit: 100 })).length).toBeGreaterThanOrEqual(4);
    expect((await store.verifyChain()).ok).toBe(true);
  });
});
