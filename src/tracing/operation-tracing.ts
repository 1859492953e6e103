import { context as otelContext, ROOT_CONTEXT, type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { Admitter } from "../pipeline/pipeline-types.js";
import type { SessionGate } from "../session/session-gate.js";

export interface OperationTracing {
  /** Flushes the spans still queued and stops the exporter. */
  shutdown(): Promise<void>;
}

/** Operations whose result never came (a client that went away) are dropped past this many. */
const MAX_OPEN_OPERATIONS = 10_000;

interface OpenOperation {
  readonly root: Span;
  forward?: Span;
}

/**
 * OpenTelemetry traces of each operation, sent as OTLP/HTTP JSON to `url`: a `latch.operation` span per
 * operation with children `authorize` (the policy decision), `approve` (the approval stage and the audit
 * write before forwarding), `forward` (upstream round trip, masking included, as it runs inside the protocol's
 * response path) and, when masking changed or withheld something, `mask` (from the first masked row to the end
 * of the result, with counts only), and an `identify` span per session open; each carries the session and
 * operation ids. Installed by wrapping the gate's and pipeline's methods (and setting `pipeline.traceMask`) at
 * the composition root only when `observability.otlp_traces` is set, so with tracing off nothing on the
 * statement path changes.
 */
export function startOperationTracing(
  url: string,
  targets: { readonly pipeline: Admitter; readonly gate: SessionGate },
): OperationTracing {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "latch" }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 500 })],
  });
  const tracer = provider.getTracer("latch");
  const open = new Map<string, OpenOperation>();
  const { pipeline, gate } = targets;

  const admit = pipeline.admit.bind(pipeline);
  // Every admission goes through the wrapper below, with its spans: none is settled past it in the same turn.
  pipeline.admitNow = undefined;
  pipeline.admit = (operation, context, options) => {
    const attributes = {
      "latch.session.id": operation.sessionId,
      "latch.operation.id": operation.id,
      "latch.protocol": operation.protocol,
    };
    const root = tracer.startSpan("latch.operation", { attributes });
    const parent = trace.setSpan(ROOT_CONTEXT, root);
    const authorize = tracer.startSpan("authorize", { attributes }, parent);
    const admission = admit(operation, context, options);
    // admit decides synchronously, then waits for approval (if any) and the audit write.
    authorize.end();
    const approve = tracer.startSpan("approve", { attributes }, parent);
    if (open.size >= MAX_OPEN_OPERATIONS) {
      const [oldest] = open.keys();
      if (oldest !== undefined) open.delete(oldest);
    }
    const state: OpenOperation = { root };
    open.set(operation.id, state);
    return admission.then((result) => {
      approve.setAttribute("latch.decision", result.verdict.decision);
      approve.end();
      root.setAttribute("latch.decision", result.verdict.decision);
      if (result.allowed) state.forward = tracer.startSpan("forward", { attributes }, parent);
      else {
        root.setStatus({ code: SpanStatusCode.ERROR, message: result.error.code });
        root.end();
        open.delete(operation.id);
      }
      return result;
    });
  };
  // Called by the protocol just before complete(), so the operation is still open. The span is made whole here:
  // it starts when the first masked row did (tally.startedAt, a performance.now() time) and ends now.
  pipeline.traceMask = (operation, tally) => {
    const state = open.get(operation.id);
    if (state === undefined) return;
    const span = tracer.startSpan(
      "mask",
      {
        startTime: tally.startedAt,
        attributes: {
          "latch.session.id": operation.sessionId,
          "latch.operation.id": operation.id,
          "latch.protocol": operation.protocol,
          "latch.mask.rows": tally.rowsMasked,
          "latch.mask.values": tally.valuesMasked,
          "latch.mask.detector_hits": tally.detectorHits,
          "latch.mask.withheld": tally.withheld,
        },
      },
      trace.setSpan(ROOT_CONTEXT, state.root),
    );
    if (tally.withheld) span.setStatus({ code: SpanStatusCode.ERROR, message: "masking_failed" });
    span.end(performance.now()); // the same clock as the start, so the duration is exact
  };
  const complete = pipeline.complete.bind(pipeline);
  pipeline.complete = (operation, result) => {
    const state = open.get(operation.id);
    open.delete(operation.id);
    if (state !== undefined) {
      state.forward?.setAttribute("latch.rows", result.rows);
      if (result.error !== undefined)
        state.forward?.setStatus({ code: SpanStatusCode.ERROR, message: result.error.code });
      state.forward?.end();
      state.root.end();
    }
    complete(operation, result);
  };

  const openSession = gate.open.bind(gate);
  gate.open = ((request: Parameters<SessionGate["open"]>[0]) => {
    const span = tracer.startSpan("identify", {
      attributes: { "latch.protocol": request.protocol, "latch.connection": request.connectionName },
    });
    return otelContext
      .with(trace.setSpan(ROOT_CONTEXT, span), () => openSession(request))
      .then(
        (opened) => {
          span.setAttribute("latch.session.id", opened.session.id);
          span.setAttribute("latch.subject", opened.session.subject);
          span.end();
          return opened;
        },
        (error: unknown) => {
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: (error as { code?: string }).code ?? "error",
          });
          span.end();
          throw error;
        },
      );
  }) as SessionGate["open"];

  return { shutdown: () => provider.shutdown() };
}
