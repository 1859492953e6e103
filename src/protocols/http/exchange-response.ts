import { PassThrough, Readable, Transform } from "node:stream";
import { pipeline as pipeStreams } from "node:stream/promises";
import { asLatchError, LatchError } from "../../errors.js";
import { MaskTally } from "../../masking/mask-tally.js";
import { MaskingFailure } from "../../masking/masking-failure.js";
import type { Operation } from "../../operation/operation.js";
import { discard } from "./body-read.js";
import { problemResponse } from "./errors.js";
import { type ExchangeRecorder, responsePreview } from "./exchange-record.js";
import type { HttpConnectionRuntime, HttpExchangeDeps, HttpExchangeResponse } from "./exchange-types.js";
import { createSecretScrubber, scrubBytes, scrubText } from "./secret-scrubber.js";
import type { HttpCredential } from "./upstream.js";
import type { ResponseHeaders, UpstreamAnswer, WholeBodyCap } from "./upstream-answer.js";

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
const SMALL_BODY_BYTES = 64 * 1024;

type Plan = "json" | "text" | "pass" | "withhold";

/** What the response path does with a body: mask it (json, text), withhold it, or pass it on. */
function planOf(runtime: HttpConnectionRuntime, noBody: boolean, headers: ResponseHeaders): Plan {
  return noBody ? "pass" : runtime.masking.planFor(headerOf(headers, "content-type"));
}

function noBodyIn(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304;
}

const wholeBodyCaps = new WeakMap<HttpConnectionRuntime, WholeBodyCap>();
const STREAMED: WholeBodyCap = () => undefined;

/**
 * Which upstream bodies are read whole as they arrive (upstream-answer.ts), one function per connection: a
 * body to mask, up to the connection's inspect_limit; a small one of known length, up to SMALL_BODY_BYTES
 * (sent on in one write with a Content-Length); anything else streams.
 */
export function wholeBodyCapOf(runtime: HttpConnectionRuntime, method: string): WholeBodyCap {
  if (method === "HEAD") return STREAMED;
  let cap = wholeBodyCaps.get(runtime);
  if (cap === undefined) {
    // Not for HEAD (above), so only the status can say there is no body.
    cap = (status, headers) => {
      const noBody = noBodyIn("GET", status);
      const plan = planOf(runtime, noBody, headers);
      if (plan === "json" || plan === "text") return runtime.config.inspect_limit;
      if (plan === "withhold" || noBody) return undefined;
      const declared = Number(headerOf(headers, "content-length") ?? Number.NaN);
      return Number.isInteger(declared) && declared <= SMALL_BODY_BYTES ? SMALL_BODY_BYTES : undefined;
    };
    wholeBodyCaps.set(runtime, cap);
  }
  return cap;
}

/**
 * The response path of an admitted request: the upstream's answer made fit for the caller (hop-by-hop headers
 * dropped, the injected secret scrubbed everywhere, the body masked when the connection's plan says so, or
 * withheld when it cannot be), and recorded once its body is settled.
 */
export function answerCaller(
  deps: HttpExchangeDeps,
  runtime: HttpConnectionRuntime,
  credential: HttpCredential,
  operation: Operation,
  method: string,
  answer: UpstreamAnswer,
  heldRequest: string | undefined,
  record: ExchangeRecorder,
): HttpExchangeResponse | Promise<HttpExchangeResponse> {
  const plan = planOf(runtime, noBodyIn(method, answer.status), answer.headers);
  const responseHeaders = answerHeadersOf(
    answer,
    credential,
    heldRequest,
    plan === "json" || plan === "text",
  );
  const body = answer.body;

  // Masking is the only stage that waits (decoding, masking); a body passed on is answered at once.
  if (plan === "withhold" || plan === "json" || plan === "text")
    return maskedAnswer(
      deps,
      runtime,
      credential,
      operation,
      answer,
      plan,
      responseHeaders,
      heldRequest,
      record,
    );

  // A small body of known length was read whole: one write with a Content-Length, not a chunked stream of
  // small writes (which costs a round of delayed ACKs on keep-alive connections).
  if (Buffer.isBuffer(body)) {
    const scrubbed = scrubBytes(body, secretBuffers(credential));
    record.answered(answer.status, scrubbed.length);
    return { status: answer.status, headers: responseHeaders, body: scrubbed };
  }
  if (body === null) {
    // Longer than its own Content-Length said: undici refuses that first, so this is a second guard.
    const error = new LatchError("upstream_unavailable", {
      name: runtime.name,
      reason: "the response body is longer than its Content-Length",
    });
    record.failed(502, error, { upstreamStatus: answer.status });
    return problemResponse(error, [], heldRequest);
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
  pipeStreams(body, ...(stages as [Transform]), out).then(
    () => record.answered(answer.status, bytes),
    (error: unknown) => {
      record.failed(answer.status, asLatchError(error, operation.id), {
        responseBytes: bytes,
        aborted: true,
      });
      out.destroy(error as Error);
    },
  );
  return { status: answer.status, headers: responseHeaders, body: out };
}

/**
 * A body to mask (read whole up to inspect_limit), or one to withhold: masked, or refused as 502. A body
 * without content coding is masked in this call (no promise); a compressed one waits for its decoder.
 */
function maskedAnswer(
  deps: HttpExchangeDeps,
  runtime: HttpConnectionRuntime,
  credential: HttpCredential,
  operation: Operation,
  answer: UpstreamAnswer,
  plan: "json" | "text" | "withhold",
  responseHeaders: string[],
  heldRequest: string | undefined,
  record: ExchangeRecorder,
): HttpExchangeResponse | Promise<HttpExchangeResponse> {
  const body = answer.body;
  // Only with tracing on: the connection's masker is shared by its sessions, so the tally is this request's.
  const tally = deps.pipeline.traceMask === undefined ? undefined : new MaskTally();
  const since = tally === undefined ? 0 : performance.now();
  const masking: MaskingOf = { deps, operation, answer, heldRequest, record, tally, since };
  if (plan === "withhold") {
    const contentType = headerOf(answer.headers, "content-type");
    return withheld(
      masking,
      runtime,
      `content type ${(contentType ?? "none").slice(0, 60)} cannot be masked`,
    );
  }
  if (!Buffer.isBuffer(body))
    return withheld(
      masking,
      runtime,
      `the body is larger than the inspect_limit of ${runtime.config.inspect_limit} bytes`,
    );
  const encoding = headerOf(answer.headers, "content-encoding")?.trim().toLowerCase();
  if (encoding === undefined || encoding === "identity") {
    let masked: Buffer;
    try {
      masked = runtime.masking.maskNow(plan, body, encoding, tally);
    } catch (error) {
      if (!(error instanceof MaskingFailure)) throw error;
      return withheld(masking, runtime, error.reason);
    }
    return maskedBody(masking, credential, responseHeaders, masked);
  }
  return runtime.masking.mask(plan, body, encoding, tally).then(
    (masked) => maskedBody(masking, credential, responseHeaders, masked),
    (error: unknown) => {
      if (!(error instanceof MaskingFailure)) throw error;
      return withheld(masking, runtime, error.reason);
    },
  );
}

/** What the end of a masked answer needs, either way it ends. */
interface MaskingOf {
  readonly deps: HttpExchangeDeps;
  readonly operation: Operation;
  readonly answer: UpstreamAnswer;
  readonly heldRequest: string | undefined;
  readonly record: ExchangeRecorder;
  readonly tally: MaskTally | undefined;
  readonly since: number;
}

function maskedBody(
  { deps, operation, answer, record, tally }: MaskingOf,
  credential: HttpCredential,
  responseHeaders: string[],
  masked: Buffer,
): HttpExchangeResponse {
  const scrubbed = scrubBytes(masked, secretBuffers(credential));
  if (tally?.touched === true) deps.pipeline.traceMask?.(operation, tally);
  record.answered(answer.status, scrubbed.length, responsePreview(scrubbed, credential));
  return { status: answer.status, headers: responseHeaders, body: scrubbed };
}

function withheld(
  { deps, operation, answer, heldRequest, record, tally, since }: MaskingOf,
  runtime: HttpConnectionRuntime,
  failure: string,
): HttpExchangeResponse {
  tally?.noteWithheld(since);
  if (tally?.touched === true) deps.pipeline.traceMask?.(operation, tally);
  if (answer.body instanceof Readable) discard(answer.body);
  const error = new LatchError("response_withheld", { reason: failure });
  deps.log.warn({ connection: runtime.name, reason: failure }, "response withheld: it could not be masked");
  record.failed(502, error, { upstreamStatus: answer.status });
  return problemResponse(error, [], heldRequest);
}

/** What a masked body no longer is: compressed (it was decoded to mask it), or the entity its ETag named. */
const NOT_FORWARDED_WHEN_MASKED = new Set([...RESPONSE_NOT_FORWARDED, "content-encoding", "etag"]);

/**
 * The caller's response headers, flat (what writeHead takes): the upstream's end-to-end headers with the
 * injected secret scrubbed from every value, after the held request's id when there is one. A body to be
 * masked loses its Content-Encoding and ETag here, in the same pass.
 */
export function answerHeadersOf(
  answer: Pick<UpstreamAnswer, "headers">,
  credential: HttpCredential,
  heldRequest: string | undefined,
  masking: boolean,
): string[] {
  const headers = answer.headers;
  const dropped = masking ? NOT_FORWARDED_WHEN_MASKED : RESPONSE_NOT_FORWARDED;
  const secrets = credential.secrets;
  const flat: string[] = heldRequest === undefined ? [] : ["latch-request-id", heldRequest];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || dropped.has(name)) continue;
    if (typeof value === "string") flat.push(name, scrubText(value, secrets));
    else for (let i = 0; i < value.length; i++) flat.push(name, scrubText(value[i]!, secrets));
  }
  return flat;
}

function headerOf(headers: ResponseHeaders, name: string): string | undefined {
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
