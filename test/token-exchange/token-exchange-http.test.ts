import { readFileSync } from "node:fs";
import path from "node:path";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EchoUpstream, startEchoUpstream } from "../support/echo-upstream.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

// The other front: token exchange on the HTTP listener (HTTPS), and the exchanged token accepted by an HTTP
// connection through Latch, which injects its own credential upstream.
const SECRET_ENV = "LATCH_TEST_EXCHANGE_HTTP_SECRET";
let gw: TestGateway;
let upstream: EchoUpstream;
let agent: Agent;
let base: string;

beforeAll(async () => {
  process.env[SECRET_ENV] = "upstream-key-0123456789abcdef";
  upstream = await startEchoUpstream();
  gw = await startTestGateway(undefined, {
    policy:
      'permit(principal in Group::"agents", action in Action::"http:read", resource in Connection::"api");',
    overrides: {
      listen: { admin: "127.0.0.1:0", http: "127.0.0.1:0" },
      identity: {
        dev_issuer: true,
        token_exchange: { enabled: true, issuer: "https://latch.test", lifetime: "2m" },
      },
      connections: {
        api: { type: "http", upstream: upstream.url, inject: { bearer: { env: SECRET_ENV } } },
      },
    },
  });
  agent = new Agent({ connect: { ca: readFileSync(path.join(gw.dataDir, "tls", "gateway.crt")) } });
  base = `https://127.0.0.1:${gw.gateway.listeners.get("http")?.port}`;
}, 60_000);

afterAll(async () => {
  await agent?.close();
  await gw?.stop();
  await upstream?.close();
});

describe("token exchange on the HTTP listener", () => {
  it("exchanges a trusted JWT over HTTPS, and the HTTP connection accepts the Latch token", async () => {
    const subject = await gw.token("http-agent", ["agents"]);
    const exchanged = await request(`${base}/oauth/token`, {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: subject,
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      }).toString(),
    });
    expect(exchanged.statusCode).toBe(200);
    const body = (await exchanged.body.json()) as { access_token: string; expires_in: number };
    expect(body.expires_in).toBeLessThanOrEqual(120);

    const through = await request(`${base}/api/echo/items`, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    expect(through.statusCode).toBe(200);
    await through.body.text();
    expect(upstream.received.at(-1)?.headers.authorization).toBe(`Bearer ${process.env[SECRET_ENV]}`);
    await gw.gateway.flushAudit();
    const starts = await gw.gateway.audit.events({ kind: "session_start", subject: "http-agent", limit: 10 });
    expect(starts.map((event) => [event.data.protocol, event.data.issuer])).toEqual([
      ["http", "https://latch.test"],
    ]);
  });

  it("refuses a GET and a JSON body on the token endpoint", async () => {
    const get = await request(`${base}/oauth/token`, { dispatcher: agent });
    expect(get.statusCode).toBe(405);
    await get.body.text();
    const json = await request(`${base}/oauth/token`, {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect([json.statusCode, ((await json.body.json()) as { error: string }).error]).toEqual([
      400,
      "invalid_request",
    ]);
  });
});
