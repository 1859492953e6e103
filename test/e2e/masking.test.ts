import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

// Masking through the real gateway: real PostgreSQL RowDescriptions (table OID + attnum), real clients.
let fx: GatewayFixture;
let token: string;
const CLEAR = ["123-45-6789", "4242 4242 4242 4242", "ada@example.com"];

beforeAll(async () => {
  fx = await startGatewayFixture({
    policy: `
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
permit(principal in Group::"agents", action == Action::"sql:function", resource in Connection::"app");`,
    overrides: {
      masking: {
        pii: {
          detectors: ["credit_card", "us_ssn", "email"],
          columns: ["public.people.ssn"],
          on_derived: "mask", // the opt-in these cases exercise; the default (deny) is tested below
        },
      },
    },
    masking: ["pii"],
  });
  await fx.direct(`
    SET ROLE ${fx.cluster.appUser};
    CREATE TABLE public.people (id int PRIMARY KEY, name text, email text, ssn text, card text, order_ref text);
    INSERT INTO public.people VALUES (1, 'Ada', 'ada@example.com', '123-45-6789', '4242 4242 4242 4242', '4242424242424241');
    RESET ROLE;`);
  token = await fx.gw.token("analyst", ["agents"]);
});
afterAll(async () => fx?.stop());

describe("inline masking through the gateway", () => {
  it("masks SSNs, cards and emails in SELECT * and keeps the last digits", async () => {
    const client = await fx.gw.connect(token);
    const { rows } = await client.query("SELECT * FROM people");
    await client.end();
    expect(rows[0].name).toBe("Ada");
    expect(rows[0].ssn).toMatch(/6789$/);
    expect(rows[0].card).toMatch(/4242$/);
    for (const clear of CLEAR) expect(JSON.stringify(rows)).not.toContain(clear);
    expect(rows[0].order_ref).toBe("4242424242424241"); // fails Luhn: not a card, stays clear
  });

  it("follows provenance through an alias, and the extended protocol", async () => {
    const client = await fx.gw.connect(token);
    const aliased = await client.query("SELECT ssn AS x FROM people");
    const bound = await client.query("SELECT ssn, email FROM people WHERE id = $1", [1]);
    await client.end();
    expect(aliased.rows[0].x).not.toBe("123-45-6789");
    expect(JSON.stringify(bound.rows)).not.toMatch(/123-45-6789|ada@example\.com/);
  });

  it("catches derived values by content and never leaks through an error message", async () => {
    const client = await fx.gw.connect(token);
    const derived = await client.query("SELECT upper(email) AS e, ssn || '' AS s FROM people");
    expect(JSON.stringify(derived.rows)).not.toMatch(/ADA@EXAMPLE\.COM|123-45-6789/);
    const error = await client.query("SELECT CAST(ssn AS int) FROM people").then(
      () => undefined,
      (e: pg.DatabaseError) => e,
    );
    await client.end();
    expect(error).toBeDefined();
    expect(`${error!.message} ${error!.detail ?? ""}`).not.toContain("123-45-6789");
  });

  it("masks or withholds binary-format results, never sends the clear value", async () => {
    const client = new pg.Client({ ...fx.gw.clientConfig(token), binary: true } as pg.ClientConfig);
    client.on("error", () => {});
    await client.connect();
    const outcome = await client.query("SELECT ssn, card FROM people").then(
      (r) => JSON.stringify(r.rows),
      (e: Error) => e.message,
    );
    await client.end();
    for (const clear of CLEAR) expect(outcome).not.toContain(clear);
  });

  it("masks rows of a statement described once and then only bound and executed (pgbench -M prepared, JDBC)", async () => {
    const client = await fx.gw.connect(token);
    type Con = {
      parse(q: { name: string; text: string; types: number[] }): void;
      describe(q: { type: string; name: string }): void;
      bind(q: { statement: string; portal: string; values: unknown[] }): void;
      execute(q: { portal: string; rows: number }): void;
      sync(): void;
      on(event: string, listener: (message: { fields?: unknown[] }) => void): void;
      once(event: string, listener: () => void): void;
    };
    const con = (client as unknown as { connection: Con }).connection;
    const ready = () => new Promise<void>((resolve) => con.once("readyForQuery", resolve));
    con.parse({ name: "by_id", text: "SELECT ssn, name FROM people WHERE id = $1", types: [] });
    con.describe({ type: "S", name: "by_id" });
    con.sync();
    await ready();
    const rows: unknown[][] = [];
    con.on("dataRow", (message) => rows.push(message.fields ?? []));
    const descriptions: unknown[] = [];
    con.on("rowDescription", (message) => descriptions.push(message));
    con.bind({ statement: "by_id", portal: "", values: ["1"] });
    con.execute({ portal: "", rows: 0 });
    con.sync();
    await ready();
    await client.end().catch(() => undefined);
    expect(rows).toHaveLength(1);
    expect(String(rows[0]![0])).toMatch(/6789$/);
    expect(String(rows[0]![0])).not.toBe("123-45-6789");
    expect(String(rows[0]![1])).toBe("Ada");
    expect(descriptions).toHaveLength(0); // the gateway's own Describe answer never reaches the client
  });

  it("records masked values only", async () => {
    await fx.gw.gateway.flushAudit();
    const record = JSON.stringify(await fx.gw.gateway.audit.events({ limit: 1000 }));
    expect(record).not.toContain("123-45-6789");
  });
});
