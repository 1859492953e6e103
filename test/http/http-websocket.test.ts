import { readFileSync } from "node:fs";
import tls from "node:tls";
import { WebSocket } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HTTP_TEST_POLICY,
  type HttpTestGateway,
  startHttpTestGateway,
  UPSTREAM_SECRET,
} from "./http-test-gateway.js";

// WebSocket upgrades: refused unless policy permits http:websocket, then relayed to a real upstream and recorded.
let h: HttpTestGateway;

beforeAll(async () => {
  h = await startHttpTestGateway({
    policy: `${HTTP_TEST_POLICY}
@id("ws-allowed")
permit(principal in Group::"ws", action == Action::"http:websocket", resource in Connection::"api");`,
  });
});
afterAll(async () => {
  await h?.stop();
});

function rawUpgrade(token: string, path = "/api/ws"): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect(
      {
        host: "127.0.0.1",
        port: Number(new URL(h.base).port),
        ca: readFileSync(h.caFile),
        servername: "localhost",
      },
      () =>
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
    );
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("close", () => resolve(Buffer.concat(chunks).toString()));
    // An upgraded socket stays open: what came within a moment is the answer.
    setTimeout(() => socket.destroy(), 1500).unref();
    socket.on("error", () => resolve(Buffer.concat(chunks).toString()));
  });
}

describe("HTTP WebSocket upgrades", () => {
  it("are refused by default (no permit for http:websocket) and never reach the upstream", async () => {
    const seen = h.upstream.received.length;
    const answer = await rawUpgrade(await h.token(["agents"]));
    expect(answer).toMatch(/^HTTP\/1\.1 403/);
    expect(answer).toContain('"code":"statement_denied"');
    expect(h.upstream.received.length).toBe(seen);
  });

  it("are relayed when policy permits http:websocket, with the injected credential, and recorded", async () => {
    const token = await h.token(["ws"], "ws-bot");
    const socket = new WebSocket(`${h.base.replace("https", "wss")}/api/ws`, {
      dispatcher: h.agent,
      headers: { authorization: `Bearer ${token}` },
    } as never);
    const reply = await new Promise<string>((resolve, reject) => {
      socket.addEventListener("open", () => socket.send("hello"));
      socket.addEventListener("message", (event) => resolve(String(event.data)));
      socket.addEventListener("error", (event) =>
        reject(new Error(String((event as { message?: string }).message))),
      );
    });
    expect(reply).toBe("echo:hello");
    socket.close();
    const upgrade = h.upstream.received.at(-1)!;
    expect(upgrade.headers["x-api-key"]).toBe(`Key ${UPSTREAM_SECRET}`);
    expect(upgrade.headers.authorization).toBeUndefined();
    const operations = await h.events("operation");
    expect(JSON.stringify(operations)).toContain('"verb":"http:websocket"');
    for (;;) {
      const results = JSON.stringify(await h.events("operation_result"));
      if (results.includes('"websocket":true')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it("scrub the injected secret from the upstream's 101 headers", async () => {
    const answer = await rawUpgrade(await h.token(["ws"], "ws-bot"), "/api/ws-reflect");
    expect(answer).toMatch(/^HTTP\/1\.1 101 /);
    expect(answer).toContain("X-Echo-Key: [redacted by latch]");
    expect(answer).not.toContain(UPSTREAM_SECRET);
  });

  it("scrub the secret from messages, also when the upstream splits it across fragments", async () => {
    const socket = await openSocket("/api/ws");
    const reply = await nextMessage(socket, () => socket.send("key"));
    expect(reply).toBe("you sent [redacted by latch] to me");
    expect(reply).not.toContain(UPSTREAM_SECRET);
    socket.close();
    // The client's offer of permessage-deflate was not passed on: a compressed frame could not be scrubbed.
    expect(h.upstream.received.at(-1)!.headers["sec-websocket-extensions"]).toBeUndefined();
  });

  it("close the socket (1008) on a frame Latch cannot read, and record it as withheld", async () => {
    const socket = await openSocket("/api/ws");
    const closed = await new Promise<number>((resolve) => {
      socket.addEventListener("close", (event) => resolve((event as { code: number }).code));
      socket.send("rsv");
    });
    expect(closed).toBe(1008);
    for (;;) {
      const results = JSON.stringify(await h.events("operation_result"));
      if (results.includes("response_withheld")) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it("refuse an upstream that negotiates an extension, before the client sees a 101", async () => {
    const answer = await rawUpgrade(await h.token(["ws"], "ws-bot"), "/api/ws-extension");
    expect(answer).toMatch(/^HTTP\/1\.1 502 /);
    expect(answer).toContain('"code":"response_withheld"');
  });
});

async function openSocket(path: string): Promise<WebSocket> {
  const token = await h.token(["ws"], "ws-bot");
  const socket = new WebSocket(`${h.base.replace("https", "wss")}${path}`, {
    dispatcher: h.agent,
    headers: { authorization: `Bearer ${token}` },
  } as never);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("error", () => reject(new Error("websocket error")));
  });
  return socket;
}

function nextMessage(socket: WebSocket, send: () => void): Promise<string> {
  return new Promise((resolve) => {
    socket.addEventListener("message", (event) => resolve(String(event.data)), { once: true });
    send();
  });
}
