import { Readable } from "node:stream";
import type { Logger } from "pino";
import type { LatchConfig } from "../../config/schema.js";
import type { Metrics } from "../../observability/metrics.js";
import type { HttpRequestRunner, HttpToolRequest, HttpToolResponse } from "../agent-tools.js";
import { runHttpExchange } from "./exchange.js";
import type { HttpConnectionRuntime, HttpSessionScope } from "./exchange-types.js";
import { guardHeaders } from "./header-guard.js";
import { compileConnectionMasking } from "./response-masker.js";
import { HttpUpstream, resolveHttpCredential } from "./upstream.js";

/** One HTTP connection's runtime (upstream pool, compiled masking), as the listener builds it at start. */
export function createHttpConnectionRuntime(name: string, config: LatchConfig): HttpConnectionRuntime {
  const connection = config.connections[name];
  if (connection?.type !== "http") throw new Error(`not an http connection: ${name}`);
  return {
    name,
    config: connection,
    upstream: new HttpUpstream(name, connection),
    masking: compileConnectionMasking(name, connection, config.masking),
  };
}

/**
 * The MCP `http_request` tool's way in: the same socket-free exchange as a request on the listener
 * (normalisation, http:<METHOD> policy with the same facts, approval, injected credential, masking, scrubbing,
 * recording), with the tool's session and pipeline. Runtimes are built here once (own pools, the same
 * compiled masking), so a bad connection stops the gateway at start as it does for the listener.
 */
export function createHttpToolRunner(deps: {
  readonly config: LatchConfig;
  readonly metrics: Metrics;
  readonly log: Logger;
}): HttpRequestRunner | undefined {
  const runtimes = new Map<string, HttpConnectionRuntime>();
  for (const [name, connection] of Object.entries(deps.config.connections))
    if (connection.type === "http") runtimes.set(name, createHttpConnectionRuntime(name, deps.config));
  if (runtimes.size === 0) return undefined;
  return {
    connections: () => [...runtimes.keys()],
    run: (request) => runToolRequest(deps, runtimes, request),
    async close() {
      await Promise.all([...runtimes.values()].map((runtime) => runtime.upstream.close()));
    },
  };
}

async function runToolRequest(
  deps: { readonly metrics: Metrics; readonly log: Logger },
  runtimes: ReadonlyMap<string, HttpConnectionRuntime>,
  request: HttpToolRequest,
): Promise<HttpToolResponse> {
  const runtime = runtimes.get(request.session.connection);
  if (runtime === undefined) throw new Error(`not an http connection: ${request.session.connection}`);
  const body = request.body === undefined ? undefined : Buffer.from(request.body, "utf8");
  // A tool call has no headers of its own: a body that parses as JSON is sent (and judged) as JSON.
  const raw: string[] = [];
  if (body !== undefined)
    raw.push("content-type", isJson(request.body) ? "application/json" : "text/plain; charset=utf-8");
  if (body !== undefined) raw.push("content-length", String(body.length));
  const guarded = guardHeaders(raw);
  if (!guarded.ok) throw new Error(guarded.reason);
  const s = request.session;
  const session: HttpSessionScope = {
    id: s.id,
    identity: s.identity,
    connection: s.connection,
    connectionLabels: s.connectionLabels,
    clientAddress: s.clientAddress,
    signal: s.signal,
    touch: () => s.touch(),
    usedGrant: (expiresAt) => s.usedGrant(expiresAt),
    remember: (steps) => s.remember(steps),
    // Resolved per call, as a session start resolves it: a rotated secret is picked up.
    credential: resolveHttpCredential(runtime.name, runtime.config),
  };
  const answer = await runHttpExchange(
    { pipeline: request.pipeline, metrics: deps.metrics, log: deps.log },
    runtime,
    session,
    {
      method: request.method,
      target: request.path,
      headers: guarded.headers,
      body: body === undefined ? undefined : Readable.from([body]),
    },
    { signal: request.signal },
  );
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < answer.headers.length; i += 2) {
    const name = answer.headers[i]!;
    const value = answer.headers[i + 1]!;
    headers[name] = headers[name] ? `${headers[name]}, ${value}` : value;
  }
  const read = Buffer.isBuffer(answer.body)
    ? { bytes: answer.body, truncated: false }
    : await readUpTo(answer.body, request.maxBodyBytes);
  const truncated = read.truncated || read.bytes.length > request.maxBodyBytes;
  return {
    status: answer.status,
    headers,
    body: read.bytes.subarray(0, request.maxBodyBytes).toString("utf8"),
    truncated,
  };
}

async function readUpTo(body: Readable, cap: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > cap) {
      // The rest is not read: the stream's end records the operation with the bytes that passed.
      body.destroy();
      return { bytes: Buffer.concat(chunks), truncated: true };
    }
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

function isJson(text: string | undefined): boolean {
  if (text === undefined) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
