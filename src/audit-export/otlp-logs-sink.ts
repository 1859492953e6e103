import { request } from "undici";
import { type ExportedEvent, ExportFailure, type ExportSink, exportRecord } from "./export-sink.js";

export interface OtlpLogsSinkOptions {
  readonly name: string;
  readonly url: string;
  /** Resolved secret headers (authorization, ...): never logged. */
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/**
 * OTLP logs over HTTP with the JSON encoding (a plain POST per batch). The OpenTelemetry SDK's log processors
 * batch and drop on their own schedule and report no per-record outcome, which a cursor that must only move
 * past delivered events cannot use; the request here is exactly one batch and a 2xx is its acknowledgement.
 */
export function createOtlpLogsSink(options: OtlpLogsSinkOptions): ExportSink {
  let delivered = 0;
  return {
    name: options.name,
    async send(events) {
      if (events.length === 0) return delivered;
      const response = await request(options.url, {
        method: "POST",
        headers: { ...options.headers, "content-type": "application/json" },
        body: JSON.stringify(otlpLogsBody(events)),
        headersTimeout: options.timeoutMs ?? 10_000,
        bodyTimeout: options.timeoutMs ?? 10_000,
      }).catch((error: NodeJS.ErrnoException) => {
        throw new ExportFailure(`OTLP receiver unreachable (${error.code ?? error.name})`);
      });
      await response.body.dump();
      if (response.statusCode < 200 || response.statusCode > 299)
        throw new ExportFailure(`OTLP receiver answered HTTP ${response.statusCode}`);
      delivered = events[events.length - 1]!.seq;
      return delivered;
    },
    async close() {},
  };
}

const text = (key: string, value: string) => ({ key, value: { stringValue: value } });

/** ExportLogsServiceRequest (opentelemetry-proto logs/v1) as OTLP/JSON. */
export function otlpLogsBody(events: readonly ExportedEvent[]) {
  return {
    resourceLogs: [
      {
        resource: { attributes: [text("service.name", "latch")] },
        scopeLogs: [
          {
            scope: { name: "latch.audit" },
            logRecords: events.map((event) => {
              const nanos = `${BigInt(Date.parse(event.ts)) * 1_000_000n}`;
              return {
                timeUnixNano: nanos,
                observedTimeUnixNano: nanos,
                severityNumber: 9,
                severityText: "INFO",
                eventName: `latch.audit.${event.kind}`,
                body: { stringValue: exportRecord(event) },
                attributes: [
                  { key: "latch.audit.seq", value: { intValue: String(event.seq) } },
                  text("latch.audit.kind", event.kind),
                  text("latch.audit.hash", event.hash),
                  ...(event.sessionId === null ? [] : [text("latch.session.id", event.sessionId)]),
                  // OpenTelemetry's semantic convention for the acting user, so a collector can filter on it.
                  ...(event.session === undefined
                    ? []
                    : [
                        text("enduser.id", event.session.subject),
                        text("latch.connection", event.session.connection),
                      ]),
                ],
              };
            }),
          },
        ],
      },
    ],
  };
}
