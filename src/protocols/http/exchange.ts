import { setMaxListeners } from "node:events";
import { asLatchError, LatchError } from "../../errors.js";
import type { AdmitOptions, ApprovalHold } from "../../pipeline/pipeline-types.js";
import { problemResponse } from "./errors.js";
import { exchangeRecorder } from "./exchange-record.js";
import { answerCaller, wholeBodyCapOf } from "./exchange-response.js";
import type {
  HttpConnectionRuntime,
  HttpExchangeDeps,
  HttpExchangeOptions,
  HttpExchangeRequest,
  HttpExchangeResponse,
  HttpSessionScope,
} from "./exchange-types.js";
import { forwardHeadersOf, upstreamPathOf } from "./forward-request.js";
import { HTTP_METHODS, type HttpBodyFacts, httpOperation } from "./http-operation.js";
import { inspectRequestBody } from "./request-body.js";
import { parseRequestTarget } from "./request-target.js";
import { frontTargetUnder } from "./target-memo.js";
import type { UpstreamAnswer } from "./upstream.js";

const RETRY_AFTER_SECONDS = "30";
const SENSITIVE = { pathCase: "sensitive" } as const;
const INSENSITIVE = { pathCase: "insensitive" } as const;
/** The facts of a request without a body: one object for all of them (nothing changes it). */
const NO_BODY: HttpBodyFacts = Object.freeze({
  kind: "none",
  keys: Object.freeze([]),
  values: Object.freeze({}),
  bytes: undefined,
});

/** A caller signal that spans its connection, with the session signal it was combined with and the result. */
const combinedSignals = new WeakMap<
  AbortSignal,
  { readonly session: AbortSignal; readonly combined: AbortSignal }
>();

/** Aborts when the session ends or the caller's connection goes; one per session and connection. */
function connectionWide(sessionSignal: AbortSignal, callerSignal: AbortSignal): AbortSignal {
  const known = combinedSignals.get(callerSignal);
  if (known !== undefined && known.session === sessionSignal) return known.combined;
  const combined = AbortSignal.any([sessionSignal, callerSignal]);
  // Every request held on the connection listens (approval-stage.ts), and a pipelining client may have many.
  setMaxListeners(0, combined);
  combinedSignals.set(callerSignal, { session: sessionSignal, combined });
  return combined;
}

function refused(error: LatchError, close = false): HttpExchangeResponse {
  return problemResponse(error, [], undefined, close);
}

/**
 * One HTTP request through Latch, with no socket, its stage order written here once: normalise -> facts ->
 * admit (policy, approval, audit before anything is forwarded) -> inject (forward-request.ts) -> forward ->
 * mask and record (exchange-response.ts, exchange-record.ts) -> response. The HTTP front calls it for every
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
      : frontTargetUnder(
          request.target.parsed,
          request.target.skip,
          config.path_case === "sensitive" ? SENSITIVE : INSENSITIVE,
        );
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
  let bodyFacts: HttpBodyFacts = NO_BODY;
  let forwardBody: Buffer | HttpExchangeRequest["body"];
  if (hasBody && request.body !== undefined) {
    const inspected = await inspectRequestBody(request.body, headers, config);
    if ("refusal" in inspected) return refused(inspected.refusal, inspected.close);
    bodyFacts = inspected.facts;
    forwardBody = inspected.forward;
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
  const onHeld = (hold: ApprovalHold) => {
    heldRequest = hold.requestId;
  };
  const callerSignal = options.signal;
  // Plain data properties where the caller's signal spans its connection (HTTP/1.1): the combined signal is
  // made once per session and connection. A per-request signal (HTTP/2 stream, MCP) is combined only when read:
  // the pipeline reads it for an approval hold, and AbortSignal.any on every request was a measurable share of
  // the request path (bench/http-bench.ts profile). A literal with a getter costs a fresh getter, accessor pair
  // and map per request, so it is not used where the combined signal is at hand.
  let admitOptions: AdmitOptions;
  if (callerSignal === undefined) admitOptions = { onHeld, signal: session.signal };
  else if (options.signalSpansConnection === true)
    admitOptions = { onHeld, signal: connectionWide(session.signal, callerSignal) };
  else {
    let combined: AbortSignal | undefined;
    admitOptions = {
      onHeld,
      get signal() {
        combined ??= AbortSignal.any([session.signal, callerSignal]);
        return combined;
      },
    };
  }
  const admitContext = { clientAddress: session.clientAddress, connectionLabels: session.connectionLabels };
  // admitNow: the admission itself when it was decided in this call (no approval hold), so the common case
  // costs no Promise.resolve and no await turn; the audit event is on record before it returns either way.
  const decided =
    deps.pipeline.admitNow === undefined
      ? deps.pipeline.admit(operation, admitContext, admitOptions)
      : deps.pipeline.admitNow(operation, admitContext, admitOptions);
  const admission = decided instanceof Promise ? await decided : decided;
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
  const record = exchangeRecorder(
    deps.pipeline,
    operation,
    started,
    runtime,
    credential,
    bodyFacts.kind === "json" && Buffer.isBuffer(forwardBody) ? forwardBody : undefined,
  );
  const path = upstreamPathOf(target, credential);
  const forwardHeaders = forwardHeadersOf(headers, credential, forwardBody);
  let answer: UpstreamAnswer;
  try {
    // A body to mask or a small one arrives read whole (no stream); a failure while reading it lands here too.
    answer = await runtime.upstream.send(
      { method, path, headers: forwardHeaders, body: forwardBody, signal: options.signal },
      wholeBodyCapOf(runtime, method),
    );
  } catch (error) {
    const latchError = asLatchError(error, operation.id);
    record(502, {}, latchError);
    return problemResponse(latchError, [], heldRequest);
  }
  return answerCaller(deps, runtime, credential, operation, method, answer, heldRequest, record);
}
