import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerApprovalRoutes } from "../../src/admin/approval-routes.js";
import type { ApprovalService } from "../../src/approvals/approval-service.js";
import type { ApprovalOutcome, ApprovalRequest } from "../../src/approvals/approval-types.js";
import { createUpfrontJudge } from "../../src/approvals/upfront-judge.js";
import { adminStream } from "../../src/cli/commands/requests.js";
import { configSchema } from "../../src/config/schema.js";
import { createTokenVerifier } from "../../src/identity/create-token-verifier.js";
import { mintDevToken } from "../../src/identity/dev-issuer.js";
import { createCedarPolicyEngine } from "../../src/policy/create-cedar-engine.js";
import { parsePolicySources } from "../../src/policy/load-policies.js";
import { ApprovalHarness, approvalVerdict, identity, nextRequest, operation } from "./approval-fixtures.js";

const POLICY = `
permit(principal in Group::"agents", action == Action::"sql:select", resource in Connection::"prod");
@approval("dba")
permit(principal in Group::"agents", action in [Action::"sql:update", Action::"sql:delete"], resource in Connection::"prod");
`;

let harness: ApprovalHarness;
let service: ApprovalService;
let app: FastifyInstance;
const tokens: Record<string, string> = {};

beforeEach(async () => {
  harness = new ApprovalHarness();
  service = await harness.service();
  const { identity: identityConfig } = configSchema.parse({ identity: { dev_issuer: true } });
  const verifier = createTokenVerifier(identityConfig, { dataDir: harness.dir });
  const engine = createCedarPolicyEngine(parsePolicySources([{ file: "prod.cedar", text: POLICY }]));
  app = Fastify();
  registerApprovalRoutes(app, {
    service,
    verifier,
    adminGroups: ["latch-admins"],
    judgeUpfront: createUpfrontJudge(
      () => engine,
      (name) => (name === "prod" ? { env: "prod" } : undefined),
    ),
    heartbeatMs: 50,
  });
  await app.ready();
  const mint = (subject: string, groups: string[]) =>
    mintDevToken(harness.dir, { subject, groups, ttlSeconds: 600 });
  tokens.agent = await mint("agent-1", ["agents"]);
  tokens.alice = await mint("alice", ["dba"]);
  tokens.bob = await mint("bob", ["dba"]);
  tokens.mallory = await mint("mallory", ["analysts"]);
  tokens.root = await mint("root", ["latch-admins"]);
});
afterEach(async () => {
  await app.close();
  await harness.close();
});

function call(method: "GET" | "POST" | "DELETE", url: string, who?: string, payload?: unknown) {
  return app.inject({
    method,
    url,
    ...(who === undefined ? {} : { headers: { authorization: `Bearer ${tokens[who]}` } }),
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
}

async function holdOne(): Promise<{ id: string; outcome: Promise<ApprovalOutcome> }> {
  const id = nextRequest(service);
  const outcome = service.requestApproval({
    operation: operation(),
    verdict: approvalVerdict(),
    mode: "hold",
    timeoutMs: 5_000,
    signal: new AbortController().signal,
  });
  return { id: await id, outcome };
}

describe("approval API", () => {
  it("lets an approver in the group approve with their own token, releasing the held statement", async () => {
    const { id, outcome } = await holdOne();
    const listed = await call("GET", "/api/requests?state=pending", "alice");
    expect(listed.statusCode).toBe(200);
    expect(listed.json().requests.map((r: ApprovalRequest) => r.id)).toEqual([id]);
    const approved = await call("POST", `/api/requests/${id}/approve`, "alice", { reason: "looks fine" });
    expect(approved.statusCode).toBe(200);
    expect(approved.json().request.state).toBe("approved");
    await expect(outcome).resolves.toMatchObject({ decision: "approved", requestId: id });
    expect((await call("GET", `/api/requests/${id}`, "alice")).json().request.votes[0].approver).toBe(
      "alice",
    );
  });

  it("answers bad callers and bad requests with clear 4xx", async () => {
    const { id, outcome } = await holdOne();
    expect((await call("GET", "/api/requests")).statusCode).toBe(401);
    const outsider = await call("POST", `/api/requests/${id}/approve`, "mallory", {});
    expect([outsider.statusCode, outsider.json().error]).toEqual([403, "not_in_group"]);
    // mallory cannot even see it
    expect((await call("GET", `/api/requests/${id}`, "mallory")).statusCode).toBe(404);
    const self = await call("POST", `/api/requests/${id}/approve`, "agent", {});
    expect([self.statusCode, self.json().error]).toEqual([403, "self_approval"]);
    expect((await call("POST", "/api/requests/req_nope/approve", "alice", {})).statusCode).toBe(404);
    expect((await call("POST", `/api/requests/${id}/deny`, "alice", {})).statusCode).toBe(400);
    expect((await call("POST", `/api/requests/${id}/approve`, "alice", { for: "10y" })).statusCode).toBe(400);
    expect((await call("POST", `/api/requests/${id}/approve`, "alice", { for: "2h" })).json().error).toBe(
      "invalid_input",
    );
    expect((await call("POST", `/api/requests/${id}/deny`, "bob", { reason: "no" })).statusCode).toBe(200);
    const late = await call("POST", `/api/requests/${id}/approve`, "alice", {});
    expect([late.statusCode, late.json().error]).toEqual([409, "request_not_pending"]);
    await expect(outcome).resolves.toMatchObject({ decision: "denied" });
  });

  it("lets an agent ask up front; approval becomes a grant that covers the live statement, revocable", async () => {
    const created = await call("POST", "/api/requests", "agent", {
      connection: "prod",
      actions: ["sql:update"],
      resources: ["orders"],
      reason: "backfill totals, ticket 7",
      for: "30m",
    });
    expect(created.statusCode).toBe(201);
    const request = created.json().request as ApprovalRequest;
    expect(request).toMatchObject({
      mode: "upfront",
      group: "dba",
      quorum: 1,
      accesses: ["sql:update Table:public.orders"],
    });

    const approved = await call("POST", `/api/requests/${request.id}/approve`, "alice", {
      reason: "ok",
      for: "10m",
    });
    const grantId = approved.json().request.grantId as string;
    expect(grantId).toMatch(/^grt_/);
    const grants = (await call("GET", "/api/grants?active=true", "agent")).json().grants;
    expect(grants).toHaveLength(1);
    expect(grants[0].expiresAt - grants[0].createdAt).toBe(600_000);
    expect(await service.checkGrant(operation(), approvalVerdict())).toMatchObject({
      requestId: request.id,
      grantId,
    });

    // Only admins revoke: not an outsider, not the approver, not the grant's holder.
    for (const who of ["mallory", "alice", "agent"]) {
      const refused = await call("DELETE", `/api/grants/${grantId}`, who, { reason: "mine" });
      expect([who, refused.statusCode, refused.json().error]).toEqual([who, 403, "forbidden"]);
    }
    expect(await service.checkGrant(operation(), approvalVerdict())).toBeDefined();
    expect((await call("DELETE", `/api/grants/grt_nope`, "root")).statusCode).toBe(404);
    expect((await call("DELETE", `/api/grants/${grantId}`, "root", { reason: "done" })).statusCode).toBe(200);
    expect((await call("DELETE", `/api/grants/${grantId}`, "root")).statusCode).toBe(409);
    expect(await service.checkGrant(operation(), approvalVerdict())).toBeUndefined();
    expect((await call("GET", "/api/grants?active=true", "agent")).json().grants).toEqual([]);
  });

  it("refuses upfront requests that policy already allows, forbids, or that name an unknown connection", async () => {
    const body = { connection: "prod", reason: "r" };
    const allowed = await call("POST", "/api/requests", "agent", {
      ...body,
      actions: ["sql:select"],
      resources: ["orders"],
    });
    expect([allowed.statusCode, allowed.json().error]).toEqual([409, "approval_not_needed"]);
    const forbidden = await call("POST", "/api/requests", "agent", { ...body, actions: ["sql:ddl"] });
    expect([forbidden.statusCode, forbidden.json().error]).toEqual([403, "not_allowed"]);
    const unknown = await call("POST", "/api/requests", "agent", {
      ...body,
      connection: "nope",
      actions: ["sql:update"],
    });
    expect(unknown.statusCode).toBe(404);
    const malformed = await call("POST", "/api/requests", "agent", {
      ...body,
      actions: ["sql:update"],
      resources: ["a b"],
    });
    expect(malformed.statusCode).toBe(400);
  });

  it("streams request updates over SSE to a real HTTP client", async () => {
    const address = await app.listen({ host: "127.0.0.1", port: 0 });
    const { id: first } = await holdOne();
    const events = adminStream({ server: address, token: tokens.alice }, "/api/requests/stream");
    const seen: { type: string; state: string; id: string }[] = [];
    const reading = (async () => {
      for await (const event of events) {
        const body = JSON.parse(event.data) as ApprovalRequest;
        seen.push({ type: event.type, state: body.state, id: body.id });
        if (body.state === "approved") return;
      }
    })();
    await waitFor(() => seen.length >= 1);
    await service.approve(first, identity("bob", ["dba"]), {});
    await reading;
    await events.return(undefined);
    expect(seen).toEqual([
      { type: "request", state: "pending", id: first },
      { type: "request", state: "approved", id: first },
    ]);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
