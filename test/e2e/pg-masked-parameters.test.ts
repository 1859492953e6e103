/**
 * Bound parameters of the extended protocol are recorded as previews. On a connection that masks, each preview
 * goes through the connection's content detectors first (column rules cannot apply to a parameter), so an
 * INSERT of a card number or an SSN never puts the clear value in the audit record; the digests approvals bind
 * to are of the full clear value, as on any connection. Real gateway, pg (extended protocol), the machine's
 * PostgreSQL on 127.0.0.1:5432 (trust) with a database of this test's own.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

const SSN = "123-45-6789";
const CARD = "4111111111111111";
const database = `latch_pgparams_${randomBytes(4).toString("hex")}`;
const admin = () => new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });

let gw: TestGateway;
let token: string;

beforeAll(async () => {
  const root = admin();
  await root.connect();
  await root.query(`CREATE DATABASE ${database}`);
  await root.end();
  const db = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await db.connect();
  await db.query("CREATE TABLE people (id int PRIMARY KEY, ssn text, card text, note text)");
  await db.end();
  const upstream = `postgres://postgres@127.0.0.1:5432/${database}`;
  gw = await startTestGateway(undefined, {
    policy: 'permit(principal in Group::"agents", action, resource);',
    overrides: {
      masking: { pii: { detectors: ["credit_card", "us_ssn"], columns: ["public.people.ssn"] } },
      connections: {
        masked: { type: "postgres", upstream, masking: ["pii"] },
        plain: { type: "postgres", upstream },
      },
    },
  });
  token = await gw.token("writer", ["agents"]);
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  const root = admin();
  await root.connect();
  await root.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await root.end();
});

async function insert(connection: string, id: number): Promise<void> {
  const client = await gw.connect(token, connection);
  try {
    await client.query("INSERT INTO people (id, ssn, card, note) VALUES ($1, $2, $3, $4)", [
      id,
      SSN,
      CARD,
      `paid with ${CARD}`,
    ]);
  } finally {
    await client.end();
  }
}

/** The `parameters` of every recorded INSERT whose first bound value (the id) is `id`. */
async function recordedParameters(id: number): Promise<unknown[]> {
  await gw.gateway.flushAudit();
  const events = (await gw.gateway.audit.events({ limit: 1000 })) as {
    kind: string;
    data: Record<string, unknown>;
  }[];
  return events
    .filter(
      (e) =>
        e.kind === "operation" &&
        JSON.stringify(e.data).includes("INSERT INTO people") &&
        (e.data.parameters as string[][] | undefined)?.[0]?.[0] === String(id),
    )
    .map((e) => e.data.parameters);
}

describe("bound parameter previews on a masked PostgreSQL connection", () => {
  it("records card numbers and SSNs masked by the detectors, never in clear", async () => {
    await insert("masked", 1);
    const recorded = await recordedParameters(1);
    expect(recorded).toHaveLength(1);
    const [row] = recorded[0] as string[][];
    expect(row![0]).toBe("1");
    expect(row![1]).not.toContain(SSN);
    expect(row![1]).toMatch(/6789$/); // masked by the SSN detector (the column rule has no say over a parameter)
    expect(row![2]).not.toContain(CARD);
    expect(row![3]).toMatch(/^paid with /);
    expect(row![3]).not.toContain(CARD);
    await gw.gateway.flushAudit();
    const all = JSON.stringify(await gw.gateway.audit.events({ limit: 1000 }));
    expect(all).not.toContain(SSN);
    expect(all).not.toContain(CARD);
  });

  it("still stores the clear values upstream (only the record is masked)", async () => {
    const db = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
    await db.connect();
    const { rows } = await db.query("SELECT ssn, card FROM people WHERE id = 1");
    await db.end();
    expect(rows).toEqual([{ ssn: SSN, card: CARD }]);
  });

  it("records the previews in clear on a connection without masking", async () => {
    await insert("plain", 2);
    const recorded = await recordedParameters(2);
    expect(recorded).toEqual([[["2", SSN, CARD, `paid with ${CARD}`]]]);
  });
});
