import { PassThrough, type Readable, Transform } from "node:stream";
import { pipeline as pipeStreams } from "node:stream/promises";
import type { Logger } from "pino";
import type { HttpConnectionConfig } from "../../config/schema.js";
import { asLatchError, LatchError } from "../../errors.js";
import { MaskTally } from "../../masking/mask-tally.js";
import { MaskingFailure } from "../../masking/masking-failure.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Operation } from "../../operation/operation.js";
import type { Admitter, ApprovalHold } from "../../pipeline/pipeline-types.js";
import type { SessionHandle } from "../../session/session-handle.js";
import { PROBLEM_CONTENT_TYPE, problemOf } from "./errors.js";
import type { GuardedHeaders } from "./header-guard.js";
import { HTTP_METHODS, type HttpBodyFacts, httpOperation, jsonBodyFacts } from "./http-operation.js";
import { parseRequestTarget, type RequestTarget, type RoutedTarget, targetUnder } from "./request-target.js";
import type { ConnectionMasking } from "./response-masker.js";
import { createSecretScrubber, scrubBytes, scrubText } from "./secret-scrubber.js";
import type { HttpCredential, HttpUpstream } from "./upstream.js";

/** What the exchange needs besides the request: shared pieces, and one connection's upstream and masking. */
export interface HttpExchangeDeps {
  readonly pipeline: Admitter;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export interface HttpConnectionRuntime {
  readonly name: string;
  readonly config: HttpConnectionConfig;
  readonly upstream: HttpUpstream;
  readonly masking: ConnectionMasking;
}

/** A session able to send HTTP requests on a connection: the live session and the credential issued for it. */
export interface HttpSessionScope extends SessionHandle {
  readonly credential: HttpCredential;
}

export interface HttpExchangeRequest {
  readonly method: string;
  /**
   * The path under the connection and the query, as sent ("/v1/invoices?limit=10"), or the target the front
   * already parsed and routed (it is not read again: only the connection's case rule is applied).
   */
  readonly target: string | RoutedTarget;
  /** The caller's headers after guardHeaders (Authorization already consumed). */
  readonly headers: GuardedHeaders;
  /** The request body; undefined when there is none. */
  readonly body: Readable | undefined;
}

export interface HttpExchangeResponse {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  /** Buffered (masked, problem) or streamed; a streamed body ends the operation's record when it ends. */
  readonly body: Buffer | Readable;
  /** The request was refused before it reached the upstream: close the client connection after it. */
  readonly close?: boolean;
}

export interface HttpExchangeOptions {
  /** Aborts when the caller goes away (a held request is then abandoned). */
  readonly signal?: AbortSignal;
}

const RESPONSE_NOT_FORWARDED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "http2-settings",
  "transfer-encoding",
  "upgrade",
  "proxy-authenticate",
  "trailer",
  "te",
  "content-length",
]);
const PREVIEW_CHARS = 256;
const SMALL_BODY_BYTES = 64 * 1024;
const RETRY_AFTER_SECONDS = "30";

/**
 * One HTTP request through Latch, with no socket: normalise -> facts -> admit (policy, approval, audit before
 * anything is forwarded) -> inject -> forward -> mask -> record -> response. The HTTP front calls it for every
 * request, and so can another module holding a session (the MCP http_request tool). Never rejects: a refusal
 * is a problem+json response.
 */
export async function runHttpExchange(
  deps: HttpExchangeDeps,
  runtime: HttpConnectionRuntime,
  session: HttpSessionScope,
  request: HttpExchangeRequest,
  options: HttpExchangeOptions = {},
): Promise<HttpExchangeResponse> {
  const started = performance.now();
  const { config } = runtime;
  const refused = (error: LatchError, rules: readonly string[] = [], close = false) =>
    problemResponse(error, rules, undefined, close);
  const method = request.method.toUpperCase();
  if (method !== request.method || !HTTP_METHODS.has(method))
    return refused(
      new LatchError("http_request_refused", {
        reason: `method ${request.method.slice(0, 20)} is not one Latch judges`,
      }),
    );
  const parsed =
    typeof request.target === "string"
      ? parseRequestTarget(request.target, { pathCase: config.path_case })
      : targetUnder(request.target.parsed, request.target.skip, { pathCase: config.path_case });
  if (!parsed.ok) return refused(new LatchError("http_request_refused", { reason: parsed.reason }));
  const target = parsed.target;
  const { headers } = request;
  if (headers.websocket)
    return refused(
      new LatchError("feature_refused", {
        feature: "a WebSocket upgrade here",
        why: "upgrades go through the listener's upgrade path (relayWebSocket), not a request exchange",
      }),
    );

  const hasBody = headers.chunked || (headers.contentLength ?? 0) > 0;
  let bodyFacts: HttpBodyFacts = { kind: "none", keys: [], values: {}, bytes: undefined };
  let forwardBody: Readable | Buffer | undefined;
  if (hasBody && request.body !== undefined) {
    const type = (headers.byName.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    const json = type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type);
    if (json) {
      if (headers.byName.has("content-encoding"))
        return refused(
          new LatchError("http_request_refused", { reason: "a compressed JSON body cannot be inspected" }),
          [],
          true,
        );
      const read = await readCapped(request.body, config.inspect_limit, headers.contentLength);
      if (read === undefined)
        return refused(
          new LatchError("message_too_large", {
            size: headers.contentLength ?? "more than the limit of",
            limit: config.inspect_limit,
          }),
          [],
          true,
        );
      let value: unknown;
      try {
        value = JSON.parse(read.toString("utf8"));
      } catch {
        return refused(
          new LatchError("http_request_refused", { reason: "the body says it is JSON but does not parse" }),
        );
      }
      bodyFacts = jsonBodyFacts(value, config.body_pointers, read.length);
      forwardBody = read;
    } else {
      bodyFacts = { kind: "other", keys: [], values: {}, bytes: headers.contentLength };
      forwardBody = request.body;
    }
  }

  const operation = httpOperation(session, {
    method,
    websocket: false,
    target,
    headers: headers.byName,
    policyHeaders: config.policy_headers,
    body: bodyFacts,
  });
  let heldRequest: string | undefined;
  // Combined only when read: the pipeline reads it for an approval hold, and AbortSignal.any on every
  // request was a measurable share of the request path (bench/http-bench.ts profile).
  let combined: AbortSignal | undefined;
  const admission = await deps.pipeline.admit(
    operation,
    { clientAddress: session.clientAddress, connectionLabels: session.connectionLabels },
    {
      onHeld: (hold: ApprovalHold) => {
        heldRequest = hold.requestId;
      },
      get signal() {
        combined ??=
          options.signal === undefined ? session.signal : AbortSignal.any([session.signal, options.signal]);
        return combined;
      },
    },
  );
  if (!admission.allowed) {
    const requestId = heldRequest ?? (admission.error.params.request as string | undefined);
    if (admission.error.code === "approval_deferred") {
      const problem = problemResponse(admission.error, admission.verdict.rules, requestId);
      return { ...problem, headers: [...problem.headers, ["retry-after", RETRY_AFTER_SECONDS]] };
    }
    return problemResponse(admission.error, admission.verdict.rules, requestId);
  }
  if (admission.grantExpiresAt !== undefined) session.usedGrant(admission.grantExpiresAt);
  session.remember(operation.steps);
  session.touch();

  const credential = session.credential;
  // One array, the caller's pairs as they are: a header the credential sets replaces every one of that name.
  const injected = credential.headers;
  const forwardHeaders: (readonly [string, string])[] = [];
  for (const pair of headers.forward) if (!namedIn(injected, pair[0], 0)) forwardHeaders.push(pair);
  for (let i = 0; i < injected.length; i++)
    if (!namedIn(injected, injected[i]![0], i + 1)) forwardHeaders.push(injected[i]!);
  if (Buffer.isBuffer(forwardBody)) forwardHeaders.push(["content-length", String(forwardBody.length)]);
  else if (forwardBody !== undefined && headers.contentLength !== undefined)
    forwardHeaders.push(["content-length", String(headers.contentLength)]);
  const query =
    credential.query === undefined ? target.queryString : joinQuery(target.queryString, credential.query);
  const upstreamPath = `${target.path}${query === "" ? "" : `?${query}`}`;

  const record = (status: number, extra: Record<string, unknown>, error?: LatchError) =>
    deps.pipeline.complete(operation, {
      durationMs: performance.now() - started,
      rows: 0,
      commandTags: [String(status)],
      ...(error === undefined ? {} : { error: { code: error.code, message: error.message } }),
      details: {
        status,
        ...extra,
        ...(bodyFacts.kind === "json" && Buffer.isBuffer(forwardBody)
          ? { requestPreview: preview(forwardBody, runtime, credential) }
          : {}),
      },
    });
  const approvalHeaders: [string, string][] =
    heldRequest === undefined ? [] : [["latch-request-id", heldRequest]];

  let answer: Awaited<ReturnType<HttpUpstream["send"]>>;
  try {
    answer = await runtime.upstream.send({
      method,
      path: upstreamPath,
      headers: forwardHeaders,
      body: forwardBody,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (error) {
    const latchError = asLatchError(error, operation.id);
    record(502, {}, latchError);
    return problemResponse(latchError, [], heldRequest);
  }
  const responseHeaders: [string, string][] = [...approvalHeaders];
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined || RESPONSE_NOT_FORWARDED.has(name)) continue;
    for (const one of Array.isArray(value) ? value : [value])
      responseHeaders.push([name, scrubText(one, credential.secrets)]);
  }
  const contentType = headerOf(answer.headers, "content-type");
  const noBody = method === "HEAD" || answer.status === 204 || answer.status === 304;
  const plan = noBody ? "pass" : runtime.masking.planFor(contentType);

  if (plan === "withhold" || plan === "json" || plan === "text") {
    const encoding = headerOf(answer.headers, "content-encoding")?.trim().toLowerCase();
    // Only with tracing on: the connection's masker is shared by its sessions, so the tally is this request's.
    const tally = deps.pipeline.traceMask === undefined ? undefined : new MaskTally();
    const since = tally === undefined ? 0 : performance.now();
    let failure: string | undefined;
    let masked: Buffer | undefined;
    if (plan === "withhold")
      failure = `content type ${(contentType ?? "none").slice(0, 60)} cannot be masked`;
    else {
      const body = await readCapped(answer.body, config.inspect_limit, undefined);
      if (body === undefined)
        failure = `the body is larger than the inspect_limit of ${config.inspect_limit} bytes`;
      else {
        try {
          masked = scrubBytes(
            await runtime.masking.mask(plan, body, encoding, tally),
            secretBuffers(credential),
          );
        } catch (error) {
          if (!(error instanceof MaskingFailure)) throw error;
          failure = error.reason;
        }
      }
    }
    if (failure !== undefined || masked === undefined) tally?.noteWithheld(since);
    if (tally?.touched === true) deps.pipeline.traceMask?.(operation, tally);
    if (failure !== undefined || masked === undefined) {
      discard(answer.body);
      const error = new LatchError("response_withheld", { reason: failure ?? "masking failed" });
      deps.log.warn(
        { connection: runtime.name, reason: failure },
        "response withheld: it could not be masked",
      );
      record(502, { upstreamStatus: answer.status }, error);
      return problemResponse(error, [], heldRequest);
    }
    const kept = responseHeaders.filter(([name]) => name !== "content-encoding" && name !== "etag");
    record(answer.status, {
      responseBytes: masked.length,
      responsePreview: previewText(masked, runtime, credential),
    });
    return { status: answer.status, headers: kept, body: masked };
  }

  // A small body of known length is read whole: one write with a Content-Length, not a chunked stream of
  // small writes (which costs a round of delayed ACKs on keep-alive connections).
  const declared = Number(headerOf(answer.headers, "content-length") ?? Number.NaN);
  if (!noBody && Number.isInteger(declared) && declared <= SMALL_BODY_BYTES) {
    const body = await readCapped(answer.body, SMALL_BODY_BYTES, declared);
    if (body !== undefined) {
      const scrubbed = scrubBytes(body, secretBuffers(credential));
      record(answer.status, { responseBytes: scrubbed.length });
      return { status: answer.status, headers: responseHeaders, body: scrubbed };
    }
  }
  // Passed through as a stream: only the injected secret is scrubbed, and the record is written at its end.
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const out = new PassThrough();
  const scrubber = createSecretScrubber(credential.secrets);
  const stages: NodeJS.ReadWriteStream[] = scrubber === undefined ? [counter] : [scrubber, counter];
  pipeStreams(answer.body, ...(stages as [Transform]), out).then(
    () => record(answer.status, { responseBytes: bytes }),
    (error: unknown) => {
      record(answer.status, { responseBytes: bytes, aborted: true }, asLatchError(error, operation.id));
      out.destroy(error as Error);
    },
  );
  return { status: answer.status, headers: responseHeaders, body: out };
}

function problemResponse(
  error: LatchError,
  rules: readonly string[],
  requestId: string | undefined,
  close = false,
): HttpExchangeResponse {
  const problem = problemOf(error, rules, requestId);
  const headers: [string, string][] = [["content-type", PROBLEM_CONTENT_TYPE]];
  if (requestId !== undefined) headers.push(["latch-request-id", requestId]);
  if (error.spec.class === "identity")
    headers.push(["www-authenticate", `Bearer realm="latch", error="invalid_token"`]);
  return { status: problem.status, headers, body: Buffer.from(problem.body), ...(close ? { close } : {}) };
}

/** The problem response for an error raised before a session exists (identity, routing). */
export function problemResponseOf(error: LatchError, close = false): HttpExchangeResponse {
  return problemResponse(error, [], undefined, close);
}

/**
 * Reads a body up to `cap` bytes; undefined when it is (or says it is) larger. Plain "data" events rather than
 * an async iterator, and no copy of a body that came in one chunk: this runs for every small response.
 */
function readCapped(body: Readable, cap: number, declared: number | undefined): Promise<Buffer | undefined> {
  if (declared !== undefined && declared > cap) {
    body.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap) {
        discard(body);
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    body.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    body.once("error", reject);
  });
}

/**
 * Drops a body Latch will not pass on. undici's body stream reports an early destroy as an "error" event
 * (RequestAbortedError), which would be an uncaught exception without a listener.
 */
export function discard(body: Readable): void {
  body.on("error", () => undefined);
  body.destroy();
}

/** True when a pair from `from` on is named `name`. */
function namedIn(pairs: readonly (readonly [string, string])[], name: string, from: number): boolean {
  for (let i = from; i < pairs.length; i++) if (pairs[i]![0] === name) return true;
  return false;
}

function joinQuery(query: string, [name, value]: readonly [string, string]): string {
  const pair = `${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
  return query === "" ? pair : `${query}&${pair}`;
}

function headerOf(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

const secretBufferCache = new WeakMap<HttpCredential, Buffer[]>();

/** The secrets as bytes to scrub, made once per credential (a session's), not per response. */
function secretBuffers(credential: HttpCredential): Buffer[] {
  let buffers = secretBufferCache.get(credential);
  if (buffers === undefined) {
    buffers = credential.secrets.filter((s) => s.length >= 4).map((s) => Buffer.from(s));
    secretBufferCache.set(credential, buffers);
  }
  return buffers;
}

/** A request body's preview: masked whole first, so a value cut by the preview's end is not half-shown. */
function preview(body: Buffer, runtime: HttpConnectionRuntime, credential: HttpCredential): string {
  const masked = runtime.masking.maskPreview(body.toString("utf8"));
  return scrubText(masked, credential.secrets).slice(0, PREVIEW_CHARS);
}

/** An already masked response body's preview. */
function previewText(body: Buffer, _runtime: HttpConnectionRuntime, credential: HttpCredential): string {
  const text = body
    .subarray(0, PREVIEW_CHARS * 4)
    .toString("utf8")
    .slice(0, PREVIEW_CHARS);
  return scrubText(text, credential.secrets);
}

/** For callers holding an already parsed target (the front routes on it). */
export function targetText(target: RequestTarget, rest: string): string {
  return `${rest}${target.queryString === "" ? "" : `?${target.queryString}`}`;
}

export type { Operation };
