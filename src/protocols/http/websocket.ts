import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { LatchError } from "../../errors.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import { rawProblemResponse } from "./errors.js";
import type { HttpConnectionRuntime } from "./exchange-types.js";
import type { GuardedHeaders } from "./header-guard.js";
import { httpOperation } from "./http-operation.js";
import { type RoutedTarget, targetUnder } from "./request-target.js";
import type { HttpLiveSession } from "./session.js";
import { encodeFrame, WebSocketScrubber } from "./websocket-scrubber.js";

/** Not asked for upstream: a compressed frame could not be scrubbed (websocket-scrubber.ts). */
const NOT_FORWARDED_ON_UPGRADE = new Set(["sec-websocket-extensions"]);
/** RFC 6455 7.4.1: 1008, policy violation. */
const CLOSE_POLICY_VIOLATION = 1008;

/**
 * A WebSocket upgrade (docs/http.md, "WebSockets"): one `http:websocket` operation, refused unless a policy
 * permits that action (Cedar denies by default). Once allowed, Latch dials the upstream with the injected
 * credential and relays both ways: the client's bytes as they came, the upstream's 101 and frames through the
 * WebSocketScrubber (the injected secret is scrubbed from headers and messages; what cannot be read is refused
 * and the socket closed). The result record carries the bytes each way and the duration. Ending the session
 * closes the socket.
 */
export async function relayWebSocket(
  deps: { readonly pipeline: Admitter },
  runtime: HttpConnectionRuntime,
  session: HttpLiveSession,
  request: IncomingMessage,
  client: Duplex,
  head: Buffer,
  /** The target the front parsed and routed (read once: only the connection's case rule is applied here). */
  target: RoutedTarget,
  headers: GuardedHeaders,
): Promise<void> {
  const started = performance.now();
  const refuse = (error: LatchError) => {
    client.end(rawProblemResponse(error));
  };
  if (request.method !== "GET")
    return refuse(new LatchError("http_request_refused", { reason: "a WebSocket upgrade must be a GET" }));
  const parsed = targetUnder(target.parsed, target.skip, { pathCase: runtime.config.path_case });
  if (!parsed.ok) return refuse(new LatchError("http_request_refused", { reason: parsed.reason }));
  const operation = httpOperation(session, {
    method: "GET",
    websocket: true,
    target: parsed.target,
    headers: headers.byName,
    policyHeaders: runtime.config.policy_headers,
    body: { kind: "none", keys: [], values: {}, bytes: undefined },
  });
  const admission = await deps.pipeline.admit(
    operation,
    { clientAddress: session.clientAddress, connectionLabels: session.connectionLabels },
    { signal: session.signal },
  );
  if (!admission.allowed) return refuse(admission.error);
  session.remember(operation.steps);

  const url = new URL(runtime.config.upstream);
  const https = url.protocol === "https:";
  const port = url.port === "" ? (https ? 443 : 80) : Number(url.port);
  const upstream: Duplex = https
    ? tls.connect({
        host: url.hostname,
        port,
        servername: url.hostname,
        rejectUnauthorized: true,
        ...(runtime.config.ca_file === undefined ? {} : { ca: readFileSync(runtime.config.ca_file) }),
      })
    : net.connect({ host: url.hostname, port });
  const credential = session.credential;
  const lines = [
    `GET ${url.pathname.replace(/\/+$/, "")}${parsed.target.path}${parsed.target.queryString === "" ? "" : `?${parsed.target.queryString}`} HTTP/1.1`,
    `host: ${url.host}`,
    "upgrade: websocket",
    "connection: Upgrade",
  ];
  const injected = new Set(credential.headers.map(([name]) => name));
  for (const [name, value] of headers.forward)
    if (!injected.has(name) && !NOT_FORWARDED_ON_UPGRADE.has(name)) lines.push(`${name}: ${value}`);
  for (const [name, value] of credential.headers) lines.push(`${name}: ${value}`);
  let fromClient = 0;
  let fromServer = 0;
  let switched = false;
  let recorded = false;
  const finish = (error?: { code: string; message: string }, flushClient = false) => {
    if (recorded) return;
    recorded = true;
    upstream.destroy();
    // A refusal written with client.end() must get out before the socket goes.
    if (flushClient) setTimeout(() => client.destroy(), 1000).unref();
    else client.destroy();
    deps.pipeline.complete(operation, {
      durationMs: performance.now() - started,
      rows: 0,
      commandTags: [switched ? "101" : "502"],
      ...(error === undefined ? {} : { error: { code: error.code, message: error.message.slice(0, 200) } }),
      details: { websocket: true, bytesFromClient: fromClient, bytesFromServer: fromServer },
    });
  };
  upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
  if (head.length > 0) upstream.write(head);
  const scrubber = new WebSocketScrubber(credential.secrets, runtime.config.inspect_limit);
  upstream.on("data", (chunk: Buffer) => {
    fromServer += chunk.length;
    session.touch();
    const scrubbed = scrubber.push(chunk);
    if (!scrubbed.ok) {
      const withheld = new LatchError("response_withheld", { reason: scrubbed.reason });
      upstream.destroy();
      // Before the 101 the client still reads HTTP: a problem document; after it, a close frame.
      if (!switched) client.end(rawProblemResponse(withheld));
      else client.end(closeFrame(CLOSE_POLICY_VIOLATION, "latch: response withheld"));
      return finish({ code: withheld.code, message: withheld.message }, true);
    }
    let full = false;
    for (const piece of scrubbed.out) {
      switched = true;
      full = !client.write(piece) || full;
    }
    if (full) {
      upstream.pause();
      client.once("drain", () => upstream.resume());
    }
  });
  client.on("data", (chunk: Buffer) => {
    fromClient += chunk.length;
    session.touch();
  });
  client.pipe(upstream);
  upstream.once("error", (error) =>
    finish({ code: "upstream_unavailable", message: error.message.slice(0, 200) }),
  );
  client.once("error", () => finish());
  // The listener keeps sockets half-open (for HTTP requests); a WebSocket peer's FIN ends the relay.
  client.once("end", () => finish());
  upstream.once("end", () => finish());
  upstream.once("close", () => finish());
  client.once("close", () => finish());
}

function closeFrame(code: number, reason: string): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return encodeFrame(0x8, payload);
}
