import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localTimeIn } from "../../src/policy/local-time.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

// policy.time_zone through real sessions: node-postgres through the in-process gateway to a real PostgreSQL.
// The policy permits only when context.local_time is Berlin's wall clock for context.time (the UTC offset in
// force now, computed here with Intl), so it is allowed with the zone set and denied without it, at any hour.
let cluster: PgCluster;
const gateways: TestGateway[] = [];

function berlinOffsetPolicy(): string {
  const now = new Date();
  const local = localTimeIn("Europe/Berlin")(now);
  const offset = (local.hour - now.getUTCHours() + 24) % 24; // 1 in winter, 2 in summer
  return `
permit (principal, action, resource)
when {
  (context.local_time.hour - context.time.hour == ${offset} ||
   context.local_time.hour - context.time.hour == ${offset - 24}) &&
  context.local_time.minute == context.time.minute
};`;
}

beforeAll(async () => {
  cluster = await startPgCluster();
}, 60_000);

afterAll(async () => {
  for (const gateway of gateways) await gateway.stop();
  await cluster?.stop();
});

describe("policy.time_zone through a real session", () => {
  it("gives context.local_time in Berlin; without a zone local_time is UTC and the same policy denies", async () => {
    const policy = berlinOffsetPolicy();
    const zoned = await startTestGateway(cluster, {
      policy,
      overrides: { policy: { time_zone: "Europe/Berlin" } },
    });
    gateways.push(zoned);
    const client = await zoned.connect(await zoned.token("ana", ["agents"]));
    expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await client.end();
    const utc = await startTestGateway(cluster, { policy });
    gateways.push(utc);
    const other = await utc.connect(await utc.token("ana", ["agents"]));
    await expect(other.query("SELECT 1 AS one")).rejects.toThrow(/not permitted/);
    await other.end();
  });
});
