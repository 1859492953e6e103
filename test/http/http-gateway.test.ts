import { readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Echoed } from "../support/echo-upstream.js";
import { type HttpTestGateway, startHttpTestGateway, UPSTREAM_SECRET } from "./http-test-gateway.js";

// The whole gateway (start-gateway.ts) with an http connection in front of a real echo server, reached by curl
// and by undici: identity, policy, injection, streaming, recording, problem+json.
let h: HttpTestGateway;

beforeAll(async () => {
  h = await startHttpTestGateway();
});
afterAll(async () => {
  await h?.stop();
});

const echoOf = (text: string) => JSON.parse(text) as Echoed;

describe("HTTP gateway end to end", () => {
  it("curl GET: the upstream gets the injected key, never the caller's token", async () => {
    const token = await h.token();
    const { stdout } = await h.curl([
      "-H",
      `Authorization: Bearer ${token}`,
      `${h.base}/api/echo/v1/invoices?limit=10`,
    ]);
    const echoed = echoOf(stdout);
    expect(echoed.method).toBe("GET");
    expect(echoed.url).toBe("/echo/v1/invoices?limit=10");
    expect(echoed.headers["x-api-key"]).toBe("[redacted by latch]"); // reflected back: scrubbed on the way out
    expect(stdout).not.toContain(UPSTREAM_SECRET);
    expect(stdout).not.toContain(token);
    const seen = h.upstream.received.at(-1)!;
    expect(seen.headers["x-api-key"]).toBe(`Key ${UPSTREAM_SECRET}`);
    expect(seen.headers.authorization).toBeUndefined();
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(token);
  });

  it("fetch POST with a JSON body: body facts reach policy, the body reaches the upstream", async () => {
    const answer = await h.send("POST", "/api/echo/orders", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ amount: 12, item: "book" }),
    });
    expect(answer.status).toBe(200);
    expect(echoOf(answer.text).body).toBe('{"amount":12,"item":"book"}');
    const refused = await h.send("POST", "/api/echo/orders", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ admin: true }),
    });
    expect(refused.status).toBe(403);
    expect(refused.headers["content-type"]).toBe("application/problem+json");
    const problem = JSON.parse(refused.text);
    expect(problem).toMatchObject({ code: "statement_denied", status: 403 });
    expect(problem.fix).toContain("policy");
  });

  it("denials name the Latch code and the rule", async () => {
    const admin = await h.send("GET", "/api/echo/admin/users");
    expect(admin.status).toBe(403);
    expect(JSON.parse(admin.text)).toMatchObject({ code: "statement_denied", rules: ["no-admin-paths"] });
    const tenant = await h.send("GET", "/api/echo/x", { headers: { "x-tenant": "other" } });
    expect(JSON.parse(tenant.text).rules).toEqual(["tenant-header"]);
    const forced = await h.send("GET", "/api/echo/x?force=true");
    expect(JSON.parse(forced.text).rules).toEqual(["no-dry-run-false"]);
    expect((await h.send("GET", "/api/echo/x?force=false")).status).toBe(200);
    const writer = await h.send("PUT", "/api/echo/x", {
      body: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(writer.status).toBe(403);
  });

  it("identity: no token is 401 with WWW-Authenticate, a bad token 401, an unknown connection 404", async () => {
    const none = await h.curl(["-i", `${h.base}/api/echo/x`]);
    expect(none.stdout).toMatch(/^HTTP\/(1\.1|2) 401/); // curl picks HTTP/2 by ALPN
    expect(none.stdout.toLowerCase()).toContain("www-authenticate: bearer");
    expect(none.stdout).toContain('"code":"token_missing"');
    const bad = await h.send("GET", "/api/echo/x", { token: "not.a.jwt" });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.text).code).toBe("token_invalid");
    const unknown = await h.send("GET", "/nope/x");
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text).code).toBe("connection_unknown");
  });

  it("streams a large download of an unmasked type without buffering it whole", async () => {
    const bytes = 8 * 1024 * 1024;
    const answer = await h.send("GET", `/api/big?bytes=${bytes}`);
    expect(answer.status).toBe(200);
    expect(answer.text.length).toBe(bytes);
  });

  it("records each request once as an operation and its result, with no secret anywhere", async () => {
    const marker = `marker-${Date.now()}`;
    await h.send("GET", `/api/echo/recorded?m=${marker}`);
    const operations = await h.events("operation");
    const results = await h.events("operation_result");
    expect(JSON.stringify([operations, results, await h.events("session_start")])).not.toContain(
      UPSTREAM_SECRET,
    );
    const operation = operations.find((e) => JSON.stringify(e.data).includes(marker));
    expect(operation).toBeDefined();
    const statement = (operation!.data as { statements: { method: string; path: string; query: unknown }[] })
      .statements[0]!;
    expect(statement).toMatchObject({ method: "GET", path: "/echo/recorded", query: { m: marker } });
    const opId = (operation!.data as { operationId: string }).operationId;
    const result = results.find((e) => (e.data as { operationId: string }).operationId === opId);
    expect(result?.data).toMatchObject({ status: 200 });
    expect((result!.data as { responseBytes: number }).responseBytes).toBeGreaterThan(0);
  });

  it("one keep-alive connection with one token is one session; another token is another", async () => {
    const before = (await h.events("session_start")).length;
    const a = await h.token(["agents"], "agent-a");
    const b = await h.token(["agents"], "agent-b");
    const one = new Agent({ connections: 1, connect: { ca: readFileSync(h.caFile) } });
    const get = async (token: string) => {
      const answer = await request(`${h.base}/api/echo/s`, {
        dispatcher: one,
        headers: { authorization: `Bearer ${token}` },
      });
      await answer.body.text();
      return answer.statusCode;
    };
    for (let i = 0; i < 3; i++) expect(await get(a)).toBe(200);
    expect(await get(b)).toBe(200);
    const starts = (await h.events("session_start")).slice(before);
    expect(starts.map((e) => (e.data as { subject: string }).subject)).toEqual(["agent-a", "agent-b"]);
    // The first session ended when the other token took the connection over.
    const ends = await h.events("session_end");
    expect(ends.some((e) => e.sessionId === starts[0]!.sessionId)).toBe(true);
    await one.close();
  });
});
