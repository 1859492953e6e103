import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpTestGateway, startHttpTestGateway } from "./http-test-gateway.js";

// A client that shuts down its write side right after its request (`shutdown(SHUT_WR)`, what `nc -N` and
// some batch clients do) must still get the answer: Node's server aborts such a request unless told otherwise.
let h: HttpTestGateway;

beforeAll(async () => {
  h = await startHttpTestGateway();
});
afterAll(async () => {
  await h?.stop();
});

function halfClosed(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      {
        // A half-open TCP socket under the TLS one: our FIN must not close the reading side.
        socket: net.connect({ host: "127.0.0.1", port: Number(new URL(h.base).port), allowHalfOpen: true }),
        ca: readFileSync(h.caFile),
        servername: "localhost",
      },
      () => socket.end(request), // the request, then our FIN (close_notify + TCP FIN)
    );
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => resolve(Buffer.concat(chunks).toString()));
    socket.on("error", reject);
  });
}

describe("HTTP client half-close", () => {
  it("a request followed by the client's FIN is answered, then the connection closes", async () => {
    const token = await h.token();
    const answer = await halfClosed(
      `GET /api/echo/half HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"url":"/echo/half"');
    expect(h.upstream.received.at(-1)?.url).toBe("/echo/half");
  });

  it("a POST whose body ends with the FIN is forwarded whole", async () => {
    const token = await h.token();
    const body = JSON.stringify({ amount: 3 });
    const answer = await halfClosed(
      `POST /api/echo/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(h.upstream.received.at(-1)?.body).toBe(body);
  });
});
