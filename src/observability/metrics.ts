import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { OperationTally } from "./operation-tally.js";

/** What the audit metrics read at each scrape: the audit writer's own state (Stores.health()). */
export interface AuditHealthSource {
  readonly state: "ok" | "refusing";
  readonly refusedSeconds: number;
}

/** What the audit export metrics read at each scrape, one entry per sink (audit-export/audit-exporter.ts). */
export interface AuditExportSource {
  readonly sink: string;
  readonly lagEvents: number;
  readonly lagSeconds: number;
  readonly failures: number;
  readonly exported: number;
}

/** Every metric Latch exports, declared in one list: latch_<area>_<thing>_<unit>. */
export function createMetrics() {
  const registry = new Registry();
  let auditHealth: (() => AuditHealthSource) | undefined;
  let auditExport: (() => readonly AuditExportSource[]) | undefined;
  /** A per-sink gauge or counter filled from the exporter's status at each scrape. */
  const exportCollect = (field: Exclude<keyof AuditExportSource, "sink">) =>
    function (this: Gauge<"sink">) {
      this.reset();
      for (const status of auditExport?.() ?? []) this.set({ sink: status.sink }, status[field]);
    };
  const exportCount = (field: "failures" | "exported") =>
    function (this: Counter<"sink">) {
      this.reset();
      for (const status of auditExport?.() ?? []) this.inc({ sink: status.sink }, status[field]);
    };
  collectDefaultMetrics({ register: registry, prefix: "latch_process_" });
  const operationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30];
  /** Every operation's decision and duration, folded into the two metrics below at each scrape. */
  const tally = new OperationTally(operationBuckets);
  const metrics = {
    registry,
    sessionsOpened: new Counter({
      name: "latch_sessions_opened_total",
      help: "Client sessions that passed authentication",
      labelNames: ["protocol", "connection"] as const,
      registers: [registry],
    }),
    sessionsActive: new Gauge({
      name: "latch_sessions_active",
      help: "Client sessions currently open",
      labelNames: ["protocol"] as const,
      registers: [registry],
    }),
    authFailures: new Counter({
      name: "latch_auth_failures_total",
      help: "Rejected client authentications by error code",
      labelNames: ["protocol", "code"] as const,
      registers: [registry],
    }),
    operations: new Counter({
      name: "latch_operations_total",
      help: "Operations (statement batches) by decision",
      labelNames: ["protocol", "decision"] as const,
      registers: [registry],
      collect() {
        tally.foldDecisions(this);
      },
    }),
    operationSeconds: new Histogram({
      name: "latch_operation_duration_seconds",
      help: "Time from receiving an operation to its last response byte",
      labelNames: ["protocol"] as const,
      buckets: operationBuckets,
      registers: [registry],
      collect() {
        tally.foldDurations(this);
      },
    }),
    auditWriteFailures: new Counter({
      name: "latch_audit_write_failures_total",
      help: "Audit appends that failed (each one denied its operation)",
      registers: [registry],
    }),
    auditWritable: new Gauge({
      name: "latch_audit_writable",
      help: "1 while the audit log accepts writes, 0 while it refuses them (operations are denied with 58030)",
      registers: [registry],
      collect() {
        const health = auditHealth?.();
        if (health !== undefined) this.set(health.state === "ok" ? 1 : 0);
      },
    }),
    auditRefusedSeconds: new Counter({
      name: "latch_audit_refused_seconds_total",
      help: "Seconds during which the audit log refused writes (and operations were denied), since start",
      registers: [registry],
      collect() {
        const health = auditHealth?.();
        if (health === undefined) return;
        this.reset();
        this.inc(health.refusedSeconds);
      },
    }),
    upstreamReady: new Gauge({
      name: "latch_upstream_ready",
      help: "1 if the connection's upstream answered its last readiness check, 0 if not (see /readyz)",
      labelNames: ["connection"] as const,
      registers: [registry],
    }),
    protocolErrors: new Counter({
      name: "latch_protocol_errors_total",
      help: "Connections closed for protocol violations",
      labelNames: ["protocol", "side"] as const,
      registers: [registry],
    }),
    connectionsRefused: new Counter({
      name: "latch_connections_refused_total",
      help: "Client connections refused before authentication (max_connections, per-address handshake cap)",
      labelNames: ["protocol", "reason"] as const,
      registers: [registry],
    }),
    handshakesAbandoned: new Counter({
      name: "latch_handshakes_abandoned_total",
      help: "Client connections that closed or timed out during the handshake (probes, scanners, slow clients)",
      labelNames: ["protocol", "reason"] as const,
      registers: [registry],
    }),
    upstreamConnectSeconds: new Histogram({
      name: "latch_upstream_connect_duration_seconds",
      help: "Time to connect and authenticate to an upstream",
      labelNames: ["connection"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    upstreamPoolCheckouts: new Counter({
      name: "latch_upstream_pool_checkouts_total",
      help: "Sessions on a pooled connection that found an idle upstream connection (hit) or dialed one (miss)",
      labelNames: ["connection", "result"] as const,
      registers: [registry],
    }),
    upstreamPoolIdle: new Gauge({
      name: "latch_upstream_pool_idle_connections",
      help: "Authenticated upstream connections idle in the pool, waiting for the next session",
      labelNames: ["connection"] as const,
      registers: [registry],
    }),
    auditExportLagEvents: new Gauge({
      name: "latch_audit_export_lag_events",
      help: "Audit events written and not yet delivered to the export sink",
      labelNames: ["sink"] as const,
      registers: [registry],
      collect: exportCollect("lagEvents"),
    }),
    auditExportLagSeconds: new Gauge({
      name: "latch_audit_export_lag_seconds",
      help: "Age of the oldest audit event not yet delivered to the export sink (0 when caught up)",
      labelNames: ["sink"] as const,
      registers: [registry],
      collect: exportCollect("lagSeconds"),
    }),
    auditExportFailures: new Counter({
      name: "latch_audit_export_failures_total",
      help: "Failed deliveries to the export sink since start (each retried with backoff)",
      labelNames: ["sink"] as const,
      registers: [registry],
      collect: exportCount("failures"),
    }),
    auditExported: new Counter({
      name: "latch_audit_exported_events_total",
      help: "Audit events confirmed delivered to the export sink since start",
      labelNames: ["sink"] as const,
      registers: [registry],
      collect: exportCount("exported"),
    }),
    /** Counts one operation's decision in latch_operations_total (at the next scrape). */
    countOperation(protocol: string, decision: string): void {
      tally.countDecision(protocol, decision);
    },
    /** Observes one operation's duration in latch_operation_duration_seconds (at the next scrape). */
    observeOperationSeconds(protocol: string, seconds: number): void {
      tally.observeSeconds(protocol, seconds);
    },
    /** The export metrics read this at every scrape. */
    watchAuditExport(source: () => readonly AuditExportSource[]): void {
      auditExport = source;
    },
    /** The audit metrics read this at every scrape (the gateway passes its stores' health). */
    watchAuditHealth(source: () => AuditHealthSource): void {
      auditHealth = source;
    },
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
