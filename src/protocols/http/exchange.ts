import { setMaxListeners } from "node:events";
import { asLatchError, LatchError } from "../../errors.js";
import type { Operation } from "../../operation/operation.js";
import type {
  Admission,
  AdmitOptions,
  ApprovalHold,
  OperationContext,
} from "../../pipeline/pipeline-types.js";
import { problemResponse } from "./errors.js";
import { ExchangeRecorder } from "./exchange-record.js";
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
import type { GuardedHeaders } from "./header-guard.js";
import { HTTP_METHODS, type HttpBodyFacts, httpOperation } from "./http-operation.js";
import { inspectRequestBody } from "./request-body.js";
import { parseRequestTarget, type RequestTarget } from "./request-target.js";
import { frontTargetUnder } from "./target-memo.js";
import type { UpstreamAnswer, UpstreamReceiver } from "./upstream-answer.js";

const RETRY_AFTER_SECONDS = "30";
const NO_FAILURE_DETAILS = Object.freeze({});
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
 * Where an exchange's answer goes, once: `answered` with the response (refusals included), or `failed` with a
 * fault of Latch's own (what a rejection of runHttpExchange is). A receiver tolerates a second call and ignores
 * it. The HTTP front's per-request object is one, so a request costs no promise or closure for it.
 */
export interface ExchangeReceiver {
  answered(response: HttpExchangeResponse): void;
  failed(error: unknown): void;
}

/**
 * One HTTP request through Latch, with no socket, as a promise: startHttpExchange for callers that want one
 * (the MCP http_request tool). Never rejects for a refusal: that is a problem+json response.
 */
export function runHttpExchange(
  deps: HttpExchangeDeps,
  runtime: HttpConnectionRuntime,
  session: HttpSessionScope,
  request: HttpExchangeRequest,
  options: HttpExchangeOptions = {},
): Promise<HttpExchangeResponse> {
  return new Promise((resolve, reject) =>
    startHttpExchange(deps, runtime, session, request, options, { answered: resolve, failed: reject }),
  );
}

/**
 * One HTTP request through Latch, with no socket, its stage order written here once: normalise -> facts ->
 * admit (policy, approval, audit before anything is forwarded) -> inject (forward-request.ts) -> forward ->
 * mask and record (exchange-response.ts, exchange-record.ts) -> response, given to `receiver`. Only what must
 * wait waits (a JSON body to read, an approval hold, the upstream, a compressed body to decode), each by a
 * callback: no async frame, await or promise of its own on the common path.
 */
export function startHttpExchange(
  deps: HttpExchangeDeps,
  runtime: HttpConnectionRuntime,
  session: HttpSessionScope,
  request: HttpExchangeRequest,
  options: HttpExchangeOptions,
  receiver: ExchangeReceiver,
): void {
  try {
    const started = performance.now();
    const { config } = runtime;
    const method = request.method.toUpperCase();
    if (method !== request.method || !HTTP_METHODS.has(method))
      return void receiver.answered(
        refused(
          new LatchError("http_request_refused", {
            reason: `method ${request.method.slice(0, 20)} is not one Latch judges`,
          }),
        ),
      );
    const parsed =
      typeof request.target === "string"
        ? parseRequestTarget(request.target, { pathCase: config.path_case })
        : frontTargetUnder(
            request.target.parsed,
            request.target.skip,
            config.path_case === "sensitive" ? SENSITIVE : INSENSITIVE,
          );
    if (!parsed.ok)
      return void receiver.answered(
        refused(new LatchError("http_request_refused", { reason: parsed.reason })),
      );
    const target = parsed.target;
    const { headers } = request;
    if (headers.websocket)
      return void receiver.answered(
        refused(
          new LatchError("feature_refused", {
            feature: "a WebSocket upgrade here",
            why: "upgrades go through the listener's upgrade path (relayWebSocket), not a request exchange",
          }),
        ),
      );
    const hasBody = headers.chunked || (headers.contentLength ?? 0) > 0;
    if (!hasBody || request.body === undefined)
      return void admitAndForward(
        deps,
        runtime,
        session,
        request,
        options,
        method,
        target,
        NO_BODY,
        undefined,
        started,
        receiver,
      );
    inspectRequestBody(request.body, headers, config).then((inspected) => {
      if ("refusal" in inspected) return receiver.answered(refused(inspected.refusal, inspected.close));
      admitAndForward(
        deps,
        runtime,
        session,
        request,
        options,
        method,
        target,
        inspected.facts,
        inspected.forward,
        started,
        receiver,
      );
    }, failedOn(receiver));
  } catch (error) {
    receiver.failed(error);
  }
}

function failedOn(receiver: ExchangeReceiver): (error: unknown) => void {
  return (error) => receiver.failed(error);
}

/** The operation is made and admitted; an admitted one is forwarded (forward()). */
function admitAndForward(
  deps: HttpExchangeDeps,
  runtime: HttpConnectionRuntime,
  session: HttpSessionScope,
  request: HttpExchangeRequest,
  options: HttpExchangeOptions,
  method: string,
  target: RequestTarget,
  bodyFacts: HttpBodyFacts,
  forwardBody: Buffer | HttpExchangeRequest["body"],
  started: number,
  receiver: ExchangeReceiver,
): void {
  try {
    const { headers } = request;
    const operation = httpOperation(session, {
      method,
      websocket: false,
      target,
      headers: headers.byName,
      policyHeaders: runtime.config.policy_headers,
      body: bodyFacts,
    });
    const exchange = new ForwardedExchange(
      deps,
      runtime,
      session,
      operation,
      method,
      target,
      headers,
      bodyFacts.kind === "json" && Buffer.isBuffer(forwardBody) ? forwardBody : undefined,
      forwardBody,
      options.signal,
      started,
      receiver,
    );
    const callerSignal = options.signal;
    // Plain data properties where the caller's signal spans its connection (HTTP/1.1): the combined signal is
    // made once per session and connection. A per-request signal (HTTP/2 stream, MCP) is combined only when
    // read: the pipeline reads it for an approval hold, and AbortSignal.any on every request was a measurable
    // share of the request path (bench/http-bench.ts profile). A literal with a getter costs a fresh getter,
    // accessor pair and map per request, so it is not used where the combined signal is at hand.
    const onHeld = (hold: ApprovalHold) => {
      exchange.heldRequest = hold.requestId;
    };
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
    // The session is the context (its clientAddress and connectionLabels, which the pipeline reads one by one).
    const admitContext: OperationContext = session;
    // admitNow: the admission itself when it was decided in this call (no approval hold), so the common case
    // costs no Promise.resolve and no callback turn; the audit event is on record before it returns either way.
    const decided =
      deps.pipeline.admitNow === undefined
        ? deps.pipeline.admit(operation, admitContext, admitOptions)
        : deps.pipeline.admitNow(operation, admitContext, admitOptions);
    if (decided instanceof Promise)
      decided.then((admission) => exchange.admitted(admission), failedOn(receiver));
    else exchange.admitted(decided);
  } catch (error) {
    receiver.failed(error);
  }
}

/**
 * One admitted-or-refused request from its admission to its answer: forwards it with the injected credential
 * and hears the upstream's answer as the upstream's receiver (upstream-answer.ts), then hands the caller's
 * answer to `receiver`. One object per request holds what the stages after admission need.
 */
class ForwardedExchange implements UpstreamReceiver {
  heldRequest: string | undefined;
  private record: ExchangeRecorder | undefined;

  constructor(
    private readonly deps: HttpExchangeDeps,
    private readonly runtime: HttpConnectionRuntime,
    private readonly session: HttpSessionScope,
    private readonly operation: Operation,
    private readonly method: string,
    private readonly target: RequestTarget,
    private readonly headers: GuardedHeaders,
    private readonly jsonBody: Buffer | undefined,
    private readonly forwardBody: Buffer | HttpExchangeRequest["body"],
    private readonly signal: AbortSignal | undefined,
    private readonly started: number,
    private readonly receiver: ExchangeReceiver,
  ) {}

  admitted(admission: Admission): void {
    try {
      const { session, operation } = this;
      if (!admission.allowed) {
        const requestId = this.heldRequest ?? (admission.error.params.request as string | undefined);
        const problem = problemResponse(admission.error, admission.verdict.rules, requestId);
        if (admission.error.code === "approval_deferred")
          problem.headers.push("retry-after", RETRY_AFTER_SECONDS);
        return void this.receiver.answered(problem);
      }
      if (admission.grantExpiresAt !== undefined) session.usedGrant(admission.grantExpiresAt);
      session.remember(operation.steps);
      session.touch();
      const credential = session.credential;
      this.record = new ExchangeRecorder(
        this.deps.pipeline,
        operation,
        this.started,
        this.runtime,
        credential,
        this.jsonBody,
      );
      const forwardBody = this.forwardBody;
      const path = upstreamPathOf(this.target, credential);
      const headers = forwardHeadersOf(this.headers, credential, forwardBody);
      const cap = wholeBodyCapOf(this.runtime, this.method);
      try {
        // A body to mask or a small one arrives read whole (no stream); a failure while reading it lands in
        // upstreamFailed too.
        this.runtime.upstream.dispatch(this.method, path, headers, forwardBody, this.signal, cap, this);
      } catch (error) {
        this.upstreamFailed(error);
      }
    } catch (error) {
      this.receiver.failed(error);
    }
  }

  upstreamAnswered(answer: UpstreamAnswer): void {
    try {
      const { deps, runtime, session } = this;
      const response = answerCaller(
        deps,
        runtime,
        session.credential,
        this.operation,
        this.method,
        answer,
        this.heldRequest,
        this.record!,
      );
      if (response instanceof Promise)
        response.then((masked) => this.receiver.answered(masked), failedOn(this.receiver));
      else this.receiver.answered(response);
    } catch (error) {
      this.receiver.failed(error);
    }
  }

  upstreamFailed(error: unknown): void {
    try {
      const latchError = asLatchError(error, this.operation.id);
      this.record!.failed(502, latchError, NO_FAILURE_DETAILS);
      this.receiver.answered(problemResponse(latchError, [], this.heldRequest));
    } catch (failure) {
      this.receiver.failed(failure);
    }
  }
}
