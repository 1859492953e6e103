import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HTTP_TEST_POLICY, type HttpTestGateway, startHttpTestGateway } from "./http-test-gateway.js";

// The upstream client's failure paths: an upstream that cannot be reached is a 502 problem (recorded), and a
// client that goes away in the middle of a streamed download aborts the upstream request without harming
// the next ones.
let h: HttpTestGateway;
/** Answers every request with a head promising 100 bytes, sends 12 and closes: a body cut short. */
let cut: net.Server;

beforeAll(async () => {
  cut = net.createServer((socket) => {
    socket.once("data", () => {
      socket.end(
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"partial":1',
      );
    });
  });
  await new Promise<void>((resolve) => cut.listen(0, "127.0.0.1", resolve));
  const cutPort = (cut.address() as net.AddressInfo).port;
  h = await startHttpTestGateway({
    policy: `${HTTP_TEST_POLICY}
@id("down-read")
permit(principal in Group::"agents", action in Action::"http:read", resource in Connection::"down");
@id("cut-read")
permit(principal in Group::"agents", action in Action::"http:read", resource in Connection::"cut");`,
    extraConnections: {
      down: { type: "http", upstream: "http://127.0.0.1:1", connect_timeout: "2s" },
      cut: { type: "http", upstream: `http://127.0.0.1:${cutPort}` },
    },
  });
});
afterAll(async () => {
  await h?.stop();
  await new Promise((resolve) => cut?.close(resolve));
});

describe("HTTP upstream failures", () => {
  it("an unreachable upstream is 502 upstream_unavailable, recorded with the error", async () => {
    const answer = await h.send("GET", "/down/anything");
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.text)).toMatchObject({ code: "upstream_unavailable" });
    const results = JSON.stringify(await h.events("operation_result"));
    expect(results).toContain("upstream_unavailable");
  });

  it("a small body cut short by the upstream is 502 upstream_unavailable, recorded with the error", async () => {
    const answer = await h.send("GET", "/cut/item");
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.text)).toMatchObject({ code: "upstream_unavailable" });
    // Nothing of the partial body reaches the caller.
    expect(answer.text).not.toContain("partial");
    const operations = (await h.events("operation")) as { data: Record<string, unknown> }[];
    // The only request for /item in this file (its connection is on the session's session_start).
    const cutOperation = operations.find((event) => JSON.stringify(event.data).includes("/item"));
    expect(cutOperation).toBeDefined();
    const results = (await h.events("operation_result")) as { data: Record<string, unknown> }[];
    const result = results.find((event) => event.data.operationId === cutOperation!.data.operationId);
    expect(result?.data).toMatchObject({ status: 502, error: { code: "upstream_unavailable" } });
  });

  it("a client leaving mid-download aborts that request; the next ones are served", async () => {
    const token = await h.token();
    const { request } = await import("undici");
    const answer = await request(`${h.base}/api/big?bytes=${32 * 1024 * 1024}`, {
      dispatcher: h.agent,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(answer.statusCode).toBe(200);
    let received = 0;
    for await (const chunk of answer.body) {
      received += (chunk as Buffer).length;
      if (received > 256 * 1024) break; // leaves: the body is destroyed, the connection dropped
    }
    for (let i = 0; i < 3; i++) expect((await h.send("GET", "/api/small", { token })).status).toBe(200);
    for (;;) {
      const results = JSON.stringify(await h.events("operation_result"));
      if (results.includes('"aborted":true')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});
