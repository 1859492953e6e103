import { readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpTestGateway, startHttpTestGateway } from "./http-test-gateway.js";

// The session layer reaches HTTP sessions like any other: kill (admin API), principal block, expired tokens.
let h: HttpTestGateway;
let admin: string;

beforeAll(async () => {
  h = await startHttpTestGateway();
  admin = await h.gw.token("root", ["latch-admins"]);
});
afterAll(async () => {
  await h?.stop();
});

/** One keep-alive connection, as one client would hold it. */
function client() {
  const agent = new Agent({ connections: 1, connect: { ca: readFileSync(h.caFile) } });
  const get = async (token: string, path = "/api/echo/c") => {
    const answer = await request(`${h.base}${path}`, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: answer.statusCode, text: await answer.body.text() };
  };
  return { agent, get };
}

const adminApi = (method: string, path: string) =>
  fetch(`${h.gw.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${admin}`,
      ...(method === "DELETE" ? {} : { "content-type": "application/json" }),
    },
    ...(method === "DELETE" ? {} : { body: "{}" }),
  });

describe("HTTP session controls", () => {
  it("latch sessions kill (DELETE /api/sessions/:id) ends the session; the next request is a new session", async () => {
    const token = await h.token(["agents"], "killed-bot");
    const c = client();
    expect((await c.get(token)).status).toBe(200);
    const live = h.gw.gateway.sessions.list().find((s) => s.subject === "killed-bot");
    expect(live?.protocol).toBe("http");
    expect((await adminApi("DELETE", `/api/sessions/${live!.id}`)).status).toBeLessThan(300);
    const ends = await h.events("session_end");
    expect(ends.some((e) => e.sessionId === live!.id)).toBe(true);
    expect((await c.get(token)).status).toBe(200);
    const again = h.gw.gateway.sessions.list().find((s) => s.subject === "killed-bot");
    expect(again?.id).not.toBe(live!.id);
    await c.agent.close();
  });

  it("a blocked principal's session ends and its next request is refused with 403 principal_blocked", async () => {
    const token = await h.token(["agents"], "blocked-bot");
    const c = client();
    expect((await c.get(token)).status).toBe(200);
    const live = h.gw.gateway.sessions.list().find((s) => s.subject === "blocked-bot");
    expect((await adminApi("POST", "/api/principals/blocked-bot/block")).status).toBeLessThan(300);
    expect(h.gw.gateway.sessions.list().some((s) => s.id === live!.id)).toBe(false);
    const refused = await c.get(token);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text).code).toBe("principal_blocked");
    await c.agent.close();
  });

  it("an expired token is refused with 401 token_expired", async () => {
    const expired = await h.gw.expiredToken("late-bot", ["agents"], 120);
    const c = client();
    const refused = await c.get(expired);
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.text).code).toBe("token_expired");
    await c.agent.close();
  });
});
