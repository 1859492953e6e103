import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

// context.client_ip through real sessions: node-postgres from 127.0.0.1 through the in-process gateway to a real
// PostgreSQL. The front records the peer as host:port; policy must see the host (it once saw 0.0.0.0, so an
// IP-restricted permit never matched and an IP forbid never fired).
let cluster: PgCluster;
const gateways: TestGateway[] = [];

beforeAll(async () => {
  cluster = await startPgCluster();
}, 60_000);

afterAll(async () => {
  for (const gateway of gateways) await gateway.stop();
  await cluster?.stop();
});

async function selectOneWith(policy: string): Promise<unknown> {
  const gateway = await startTestGateway(cluster, { policy });
  gateways.push(gateway);
  const client = await gateway.connect(await gateway.token("ana", ["agents"]));
  try {
    return (await client.query("SELECT 1 AS one")).rows;
  } finally {
    await client.end();
  }
}

describe("context.client_ip through a real session", () => {
  it("permits from the loopback range and denies outside it", async () => {
    await expect(
      selectOneWith(
        `permit (principal, action, resource) when { context.client_ip.isInRange(ip("127.0.0.0/8")) };`,
      ),
    ).resolves.toEqual([{ one: 1 }]);
    await expect(
      selectOneWith(
        `permit (principal, action, resource) when { context.client_ip.isInRange(ip("10.0.0.0/8")) };`,
      ),
    ).rejects.toThrow(/not permitted/);
  });

  it("fires a forbid on the client's address", async () => {
    await expect(
      selectOneWith(`
        permit (principal, action, resource);
        forbid (principal, action, resource) when { context.client_ip == ip("127.0.0.1") };`),
    ).rejects.toThrow(/not permitted|forbid/);
  });
});
