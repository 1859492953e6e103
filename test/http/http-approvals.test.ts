import { afterAll, describe, expect, it } from "vitest";
import type { ApprovalRequest } from "../../src/approvals/approval-types.js";
import { type HttpTestGateway, startHttpTestGateway } from "./http-test-gateway.js";

// HTTP requests matching an @approval permit (DELETE on "api" needs group "approvers"), decided through the same
// approval service and admin API as SQL: held (the client waits) or deferred (202 + Retry-After).
const started: HttpTestGateway[] = [];
afterAll(async () => {
  for (const h of started) await h.stop();
});

async function gateway(mode: "hold" | "defer"): Promise<HttpTestGateway> {
  const h = await startHttpTestGateway({ approvals: { mode, timeout: "30s" } });
  started.push(h);
  return h;
}

async function api(h: HttpTestGateway, method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${h.gw.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await response.json()) as { requests: ApprovalRequest[] };
}

/** The pending request of this connection, once the held operation is on record (polls the admin API). */
async function pendingRequest(h: HttpTestGateway, approver: string): Promise<ApprovalRequest> {
  for (;;) {
    const { requests } = await api(h, "GET", "/api/requests?state=pending", approver);
    const found = requests.find((r) => r.connection === "api" && r.state === "pending");
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("HTTP approvals", () => {
  it("hold: the DELETE waits, runs once approved, and the answer carries Latch-Request-Id", async () => {
    const h = await gateway("hold");
    const approver = await h.gw.token("alice", ["approvers"]);
    const seen = h.upstream.received.length;
    const answer = h.send("DELETE", "/api/echo/items/7");
    const request = await pendingRequest(h, approver);
    expect(h.upstream.received.length).toBe(seen); // held: nothing reached the upstream yet
    await api(h, "POST", `/api/requests/${request.id}/approve`, approver, {});
    const done = await answer;
    expect(done.status).toBe(200);
    expect(done.headers["latch-request-id"]).toBe(request.id);
    expect(h.upstream.received.at(-1)?.method).toBe("DELETE");
  });

  it("hold: a denied request is 403 approval_denied and never reaches the upstream", async () => {
    const h = started[0]!;
    const approver = await h.gw.token("alice", ["approvers"]);
    const seen = h.upstream.received.length;
    const answer = h.send("DELETE", "/api/echo/items/8");
    const request = await pendingRequest(h, approver);
    await api(h, "POST", `/api/requests/${request.id}/deny`, approver, { reason: "not today" });
    const done = await answer;
    expect(done.status).toBe(403);
    expect(JSON.parse(done.text)).toMatchObject({ code: "approval_denied", requestId: request.id });
    expect(h.upstream.received.length).toBe(seen);
  });

  it("defer: 202 with Retry-After and the request id; the same request runs after approval", async () => {
    const h = await gateway("defer");
    const approver = await h.gw.token("alice", ["approvers"]);
    const token = await h.token();
    const first = await h.send("DELETE", "/api/echo/items/9", { token });
    expect(first.status).toBe(202);
    expect(first.headers["retry-after"]).toBe("30");
    const id = first.headers["latch-request-id"] as string;
    expect(id).toMatch(/^req_/);
    expect(JSON.parse(first.text)).toMatchObject({ code: "approval_deferred", requestId: id });
    await api(h, "POST", `/api/requests/${id}/approve`, approver, {});
    const again = await h.send("DELETE", "/api/echo/items/9", { token });
    expect(again.status).toBe(200);
  });
});
