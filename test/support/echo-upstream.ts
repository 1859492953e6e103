import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";

/** What the echo upstream received, as it answers it on /echo/... */
export interface Echoed {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly rawHeaders: string[];
  readonly body: string;
}

export interface EchoUpstream {
  readonly url: string;
  readonly port: number;
  /** Every request it received, in order. */
  readonly received: Echoed[];
  close(): Promise<void>;
}

export const FAKE_CUSTOMERS = {
  customers: [
    { id: 1, name: "Ada", email: "ada@example.com", ssn: "123-45-6789", card: "4111 1111 1111 1111" },
    { id: 2, name: "Bob", email: "bob@example.com", ssn: "536-22-1234", card: "5500 0000 0000 0004" },
  ],
};

/**
 * A real HTTP/1.1 server for the HTTP gateway's tests: everything under /echo answers, as JSON, what it
 * received (method, URL, headers, body); /customers serves fake PII (also gzip-encoded with ?gzip=1);
 * /text a text/plain line with a card number; /big?bytes=N a streamed application/octet-stream body;
 * /reflect the credential it received, in a header and in the body; /image a small image/png; /zstd a body with an encoding Latch cannot decode; /small a tiny JSON object.
 * WebSocket upgrades echo text frames; "key" is answered with the credential (fragmented), "rsv" with a frame
 * flagged compressed; /ws-reflect and /ws-extension shape the 101 (see the upgrade handler).
 */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const received: Echoed[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://upstream");
      const echoed: Echoed = {
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        rawHeaders: request.rawHeaders,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      // Latch's readiness probe (OPTIONS *) is not a request anything sent through the gateway.
      if (request.url !== "*") received.push(echoed);
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        const body = Buffer.from(JSON.stringify(value));
        response.writeHead(status, {
          "content-type": "application/json",
          "content-length": body.length,
          ...headers,
        });
        response.end(body);
      };
      if (url.pathname === "/small") return json(200, { ok: true, id: 42 });
      if (url.pathname === "/reflect")
        return json(
          200,
          { key: request.headers["x-api-key"] ?? null, authorization: request.headers.authorization ?? null },
          { "x-echo-key": String(request.headers["x-api-key"] ?? request.headers.authorization ?? "") },
        );
      if (url.pathname.startsWith("/echo")) return json(200, echoed);
      if (url.pathname === "/customers") {
        if (url.searchParams.get("gzip") === "1") {
          const body = zlib.gzipSync(JSON.stringify(FAKE_CUSTOMERS));
          response.writeHead(200, {
            "content-type": "application/json",
            "content-encoding": "gzip",
            "content-length": body.length,
          });
          return response.end(body);
        }
        return json(200, FAKE_CUSTOMERS);
      }
      if (url.pathname === "/text") {
        response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        return response.end("customer card 4111 1111 1111 1111 on file\n");
      }
      if (url.pathname === "/zstd") {
        response.writeHead(200, { "content-type": "application/json", "content-encoding": "zstd" });
        return response.end(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
      }
      if (url.pathname === "/image") {
        response.writeHead(200, { "content-type": "image/png" });
        return response.end(Buffer.from("89504e470d0a1a0a", "hex"));
      }
      if (url.pathname === "/big") {
        let left = Number(url.searchParams.get("bytes") ?? "1048576");
        response.writeHead(200, { "content-type": "application/octet-stream", "content-length": left });
        const block = Buffer.alloc(64 * 1024, 0x61);
        const pump = () => {
          while (left > 0) {
            const piece = block.subarray(0, Math.min(block.length, left));
            left -= piece.length;
            if (!response.write(piece)) return response.once("drain", pump);
          }
          response.end();
        };
        return pump();
      }
      json(404, { error: "not found", path: url.pathname });
    });
  });
  // WebSocket: the RFC 6455 handshake, then every text frame from the client comes back as "echo:<text>".
  server.on("upgrade", (request, socket) => {
    received.push({
      method: request.method ?? "",
      url: request.url ?? "",
      headers: request.headers,
      rawHeaders: request.rawHeaders,
      body: "",
    });
    const accept = createHash("sha1")
      .update(`${request.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest("base64");
    // /ws-reflect puts the credential it received in its 101 headers; /ws-extension claims permessage-deflate.
    const key = String(request.headers["x-api-key"] ?? request.headers.authorization ?? "");
    const extra = request.url?.startsWith("/ws-reflect")
      ? `X-Echo-Key: ${key}\r\n`
      : request.url?.startsWith("/ws-extension")
        ? "Sec-WebSocket-Extensions: permessage-deflate\r\n"
        : "";
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`,
    );
    const frameOf = (first: number, payload: Buffer) =>
      Buffer.concat([Buffer.from([first, payload.length]), payload]);
    socket.on("data", (frame: Buffer) => {
      const opcode = frame[0]! & 0x0f;
      if (opcode === 0x8) return socket.end(Buffer.from([0x88, 0x00]));
      const length = frame[1]! & 0x7f; // small frames only: this is a test server
      const mask = frame.subarray(2, 6);
      const payload = Buffer.from(frame.subarray(6, 6 + length).map((byte, i) => byte ^ mask[i % 4]!));
      const text = payload.toString();
      // "key": the credential, in two fragments cut in its middle, each written on its own.
      if (text === "key") {
        const half = Math.floor(key.length / 2);
        socket.write(frameOf(0x01, Buffer.from(`you sent ${key.slice(0, half)}`)));
        setTimeout(() => socket.write(frameOf(0x80, Buffer.from(`${key.slice(half)} to me`))), 20);
        return;
      }
      // "rsv": a frame flagged compressed (RSV1), which Latch cannot read through.
      if (text === "rsv") return socket.write(frameOf(0xc1, Buffer.from("zz")));
      const reply = Buffer.concat([Buffer.from("echo:"), payload]);
      socket.write(frameOf(0x81, reply));
    });
    socket.on("error", () => socket.destroy());
    // Node's server keeps sockets half-open: a peer that hangs up without a close frame ends this one too.
    socket.on("end", () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
