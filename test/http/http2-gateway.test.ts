import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApprovalRequest } from "../../src/approvals/approval-types.js";
import type { Echoed } from "../support/echo-upstream.js";
import { type HttpTestGateway, startHttpTestGateway, UPSTREAM_SECRET } from "./http-test-gateway.js";

// HTTP/2 on the HTTP listener (ALPN h2): curl --http2 and Node's http2 client through the same request path as
// HTTP/1.1 (identity, policy, injection, masking, approvals, recording); a session is one HTTP/2 connection.
let h: HttpTestGateway;

beforeAll(async () => {
  h = await startHttpTestGateway({ approvals: { mode: "hold", timeout: "30s" } });
});
afterAll(async () => {
  await h?.stop();
});

interface H2Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  text: string;
}

/** One HTTP/2 connection, as one client holds it. */
function h2Client() {
  const session = http2.connect(h.base, { ca: readFileSync(h.caFile), servername: "localhost" });
  session.on("error", () => undefined);
  const send = (headers: http2.OutgoingHttpHeaders, body?: string) =>
    new Promise<H2Answer>((resolve) => {
      const stream = session.request(headers, { endStream: body === undefined });
      let answerHeaders: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on("response", (received) => {
        answerHeaders = received;
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () =>
        resolve({
          status: Number(answerHeaders[":status"]),
          headers: answerHeaders,
          text: Buffer.concat(chunks).toString(),
        }),
      );
      // A stream Node's HTTP/2 layer reset (malformed request) comes back as status 0.
      stream.on("error", () => resolve({ status: 0, headers: {}, text: "" }));
      if (body !== undefined) stream.end(body);
    });
  const get = (token: string, path: string, extra: http2.OutgoingHttpHeaders = {}) =>
    send({ ":method": "GET", ":path": path, authorization: `Bearer ${token}`, ...extra });
  return { session, send, get };
}

const echoOf = (text: string) => JSON.parse(text) as Echoed;

describe("HTTP/2", () => {
  it("curl --http2: ALPN picks h2, the upstream gets the injected key, never the caller's token", async () => {
    const token = await h.token();
    const { stdout } = await h.curl([
      "--http2",
      "-i",
      "-H",
      `Authorization: Bearer ${token}`,
      `${h.base}/api/echo/v1/invoices?limit=10`,
    ]);
    expect(stdout).toMatch(/^HTTP\/2 200/);
    const echoed = echoOf(stdout.slice(stdout.indexOf("\r\n\r\n") + 4));
    expect(echoed.url).toBe("/echo/v1/invoices?limit=10");
    expect(echoed.headers["x-api-key"]).toBe("[redacted by latch]");
    expect(stdout).not.toContain(UPSTREAM_SECRET);
    const seen = h.upstream.received.at(-1)!;
    expect(seen.headers["x-api-key"]).toBe(`Key ${UPSTREAM_SECRET}`);
    expect(seen.headers.authorization).toBeUndefined();
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(token);
    // :authority became the Host Latch judged; the upstream gets its own.
    expect(seen.headers.host).toBe(new URL(h.upstream.url).host);
  });

  it("curl without --http2 still speaks HTTP/1.1 on the same listener", async () => {
    const token = await h.token();
    const { stdout } = await h.curl([
      "--http1.1",
      "-i",
      "-H",
      `Authorization: Bearer ${token}`,
      `${h.base}/api/small`,
    ]);
    expect(stdout).toMatch(/^HTTP\/1\.1 200/);
  });

  it("node:http2: requests on one connection are one session, with body facts for a length-less JSON body", async () => {
    const token = await h.token(["agents"], "h2-bot");
    const c = h2Client();
    expect((await c.get(token, "/api/echo/a")).status).toBe(200);
    // No content-length: an HTTP/2 body needs none; it is still read, judged and forwarded.
    const posted = await c.send(
      {
        ":method": "POST",
        ":path": "/api/echo/orders",
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
      },
      JSON.stringify({ amount: 12 }),
    );
    expect(posted.status).toBe(200);
    expect(echoOf(posted.text).body).toBe('{"amount":12}');
    const denied = await c.send(
      {
        ":method": "POST",
        ":path": "/api/echo/orders",
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
      },
      JSON.stringify({ admin: true }),
    );
    expect(denied.status).toBe(403);
    expect(denied.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(denied.text)).toMatchObject({ code: "statement_denied" });
    const sessions = h.gw.gateway.sessions.list().filter((s) => s.subject === "h2-bot");
    expect(sessions).toHaveLength(1);
    const starts = (await h.events("session_start")).filter((e) => e.sessionId === sessions[0]!.id);
    expect(starts).toHaveLength(1);
    c.session.close();
  });

  it("a JSON body over inspect_limit is 413 and the stream is closed; the connection goes on", async () => {
    const token = await h.token();
    const c = h2Client();
    const big = JSON.stringify({ blob: "x".repeat(2 * 1024 * 1024) });
    const refused = await c.send(
      {
        ":method": "POST",
        ":path": "/api/echo/orders",
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "content-length": String(big.length),
      },
      big,
    );
    expect(refused.status).toBe(413);
    expect(JSON.parse(refused.text).code).toBe("message_too_large");
    expect((await c.get(token, "/api/small")).status).toBe(200);
    c.session.close();
  });

  it("masks JSON responses over HTTP/2", async () => {
    const c = h2Client();
    const answer = await c.get(await h.token(), "/masked/customers");
    expect(answer.status).toBe(200);
    expect(answer.text).not.toContain("123-45-6789");
    expect(JSON.parse(answer.text).customers[0].name).toBe("[redacted]");
    expect(answer.headers["content-length"]).toBe(String(Buffer.byteLength(answer.text)));
    c.session.close();
  });

  it("holds an @approval request over HTTP/2 until it is approved", async () => {
    const approver = await h.gw.token("alice", ["approvers"]);
    const c = h2Client();
    const seen = h.upstream.received.length;
    const answer = c.send({
      ":method": "DELETE",
      ":path": "/api/echo/items/7",
      authorization: `Bearer ${await h.token()}`,
    });
    let pending: ApprovalRequest | undefined;
    while (pending === undefined) {
      const list = (await adminApi(approver, "GET", "/api/requests?state=pending")) as {
        requests: ApprovalRequest[];
      };
      pending = list.requests.find((r) => r.connection === "api");
      if (pending === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(h.upstream.received.length).toBe(seen);
    await adminApi(approver, "POST", `/api/requests/${pending.id}/approve`);
    const done = await answer;
    expect(done.status).toBe(200);
    expect(done.headers["latch-request-id"]).toBe(pending.id);
    expect(h.upstream.received.at(-1)?.method).toBe("DELETE");
    c.session.close();
  });

  it("kill ends the session with GOAWAY; a new connection is a new session", async () => {
    const admin = await h.gw.token("root", ["latch-admins"]);
    const token = await h.token(["agents"], "h2-killed");
    const c = h2Client();
    expect((await c.get(token, "/api/echo/k")).status).toBe(200);
    const live = h.gw.gateway.sessions.list().find((s) => s.subject === "h2-killed")!;
    const goaway = new Promise<void>((resolve) => c.session.once("goaway", () => resolve()));
    const closed = new Promise<void>((resolve) => c.session.once("close", () => resolve()));
    await adminApi(admin, "DELETE", `/api/sessions/${live.id}`);
    await goaway;
    await closed;
    const again = h2Client();
    expect((await again.get(token, "/api/echo/k")).status).toBe(200);
    const next = h.gw.gateway.sessions.list().find((s) => s.subject === "h2-killed");
    expect(next?.id).not.toBe(live.id);
    again.session.close();
  });

  it("refuses requests Node's client can send but Latch does not take: path tricks, :authority with a path", async () => {
    const token = await h.token();
    const c = h2Client();
    const seen = h.upstream.received.length;
    const encoded = await c.get(token, "/api/echo/%252e%252e/admin");
    expect(encoded.status).toBe(400);
    expect(JSON.parse(encoded.text).code).toBe("http_request_refused");
    // Normalised before policy: //./ collapses and the forbid on /echo/admin* holds.
    expect((await c.get(token, "/api//echo/./admin/users")).status).toBe(403);
    const override = await c.get(token, "/api/echo/x", { "x-http-method-override": "DELETE" });
    expect(override.status).toBe(400);
    // Refused by Latch (400) or already by Node's HTTP/2 layer (stream reset, status 0): never forwarded.
    const refused = [0, 400];
    const authority = await c.get(token, "/api/echo/x", { ":authority": "evil.example/api/echo" });
    expect(refused).toContain(authority.status);
    const userinfo = await c.get(token, "/api/echo/x", { ":authority": "user@localhost" });
    expect(refused).toContain(userinfo.status);
    const scheme = await c.get(token, "/api/echo/x", { ":scheme": "http" });
    expect(scheme.status).toBe(400);
    expect(h.upstream.received.length).toBe(seen);
    c.session.close();
  });
});

async function adminApi(token: string, method: string, path: string): Promise<unknown> {
  const response = await fetch(`${h.gw.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(method === "POST" ? { "content-type": "application/json" } : {}),
    },
    ...(method === "POST" ? { body: "{}" } : {}),
  });
  return response.status === 204 ? undefined : response.json().catch(() => undefined);
}
