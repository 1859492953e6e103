import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../../src/store/store.js";
import { type GatewayFixture, startGatewayFixture } from "../e2e/pg-fixture.js";

/**
 * Approval events and operations share the gateway's one ordered writer (the pipeline's batcher), so the chain
 * tells the story in the order it happened: the held operation, its request, the vote, the decision, and
 * only then the release. Through the real composition root (startGateway), a real PostgreSQL and the API.
 */
const POLICY = `
@id("agents-read")
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
@id("agents-session")
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
@id("items-writes-need-dba")
@approval("dba")
permit(principal in Group::"agents", action in Action::"sql:write", resource == Table::"app/public.items");
`;

let fx: GatewayFixture;
beforeAll(async () => {
  fx = await startGatewayFixture({
    policy: POLICY,
    overrides: { approvals: { timeout: "30s", mode: "hold", max_grant: "10m" } },
  });
}, 60_000);
afterAll(async () => fx?.stop());

function heldRequestId(client: pg.Client): Promise<string> {
  return new Promise((resolve) => {
    client.on("notice", (notice: { message?: string }) => {
      const match = /request (req_[A-Za-z0-9_-]+)/.exec(notice.message ?? "");
      if (match) resolve(match[1]!);
    });
  });
}

async function allEvents(): Promise<AuditEvent[]> {
  await fx.gw.gateway.flushAudit();
  const events: AuditEvent[] = [];
  for (;;) {
    const page = await fx.gw.gateway.audit.events({ afterSeq: events.at(-1)?.seq ?? 0, limit: 1000 });
    events.push(...page);
    if (page.length < 1000) return events;
  }
}

const about = (requestId: string) => (event: AuditEvent) => JSON.stringify(event.data).includes(requestId);

describe("approval events in the audit chain", () => {
  it("a held statement reads operation -> approval_requested -> vote -> decided -> released, and a grant's use reads operation -> released", async () => {
    const agent = await fx.gw.connect(await fx.gw.token("ci-bot", ["agents"]));
    const busy = await fx.gw.connect(await fx.gw.token("busy-bot", ["agents"]));
    const alice = await fx.gw.token("alice", ["dba"]);
    const held = heldRequestId(agent);
    const result = agent.query("UPDATE items SET name = 'ordered' WHERE id = 5");
    const requestId = await held;
    // Other operations keep flowing while the vote is taken, so the writer has groups of its own in flight.
    const traffic = (async () => {
      for (let i = 0; i < 50; i++) await busy.query(`SELECT ${i} AS n`);
    })();
    const vote = fetch(`${fx.gw.adminUrl}/api/requests/${requestId}/approve`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "ticket 12", for: "5m" }),
    });
    expect((await vote).status).toBe(200);
    expect((await result).rowCount).toBe(1);
    await traffic;
    // Released by the grant: no new request, the release follows the operation it let through.
    expect((await agent.query("UPDATE items SET name = 'by grant' WHERE id = 6")).rowCount).toBe(1);
    await agent.end();
    await busy.end();

    const events = await allEvents();
    const mine = events.filter(about(requestId));
    const seqOf = (kind: string, where: (event: AuditEvent) => boolean = () => true) => {
      const found = mine.filter((event) => event.kind === kind && where(event));
      expect(found, `one ${kind} about ${requestId}`).toHaveLength(1);
      return found[0]!.seq;
    };
    const heldOperation = seqOf("operation", (e) => JSON.stringify(e.data).includes("'ordered'"));
    const requested = seqOf("approval_requested");
    const voted = seqOf("approval_vote");
    const decided = seqOf("approval_decided");
    const created = seqOf("grant_created");
    const releases = mine.filter((event) => event.kind === "approval_released");
    expect(releases).toHaveLength(2);
    const grantedOperation = seqOf("operation", (e) => JSON.stringify(e.data).includes("'by grant'"));
    expect(heldOperation).toBeLessThan(requested);
    expect(requested).toBeLessThan(voted);
    expect(voted).toBeLessThan(decided);
    expect(decided).toBeLessThan(created);
    expect(created).toBeLessThan(releases[0]!.seq);
    expect(releases[0]!.data).toMatchObject({ requestId });
    expect(releases[1]!.seq).toBeGreaterThan(grantedOperation);
    expect(releases[1]!.data).toMatchObject({ requestId, grantId: expect.stringMatching(/^grt_/) });
    expect((await fx.gw.gateway.audit.verifyChain()).ok).toBe(true);
  });
});
