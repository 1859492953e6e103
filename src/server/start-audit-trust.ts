import type { Logger } from "pino";
import { loadCheckpointSigner } from "../audit/checkpoint-key.js";
import { type Checkpointer, startCheckpointer } from "../audit/checkpointer.js";
import { type AuditExporter, startAuditExporter } from "../audit-export/audit-exporter.js";
import { createExportSinks } from "../audit-export/create-export-sinks.js";
import { type AuditPruner, startAuditPruner } from "../audit-retention/audit-pruner.js";
import type { LatchConfig } from "../config/schema.js";
import { parseDuration } from "../identity/parse-duration.js";
import type { Metrics } from "../observability/metrics.js";
import type { AuditEventInput } from "../store/store.js";
import type { Stores } from "../store/stores.js";

export interface AuditTrust {
  /** Signs a last checkpoint and stops every background job (before gateway_stop is written). */
  stop(): Promise<void>;
}

export interface AuditTrustOptions {
  readonly config: LatchConfig;
  readonly stores: Stores;
  /** The gateway's one ordered writer; resolves once durable. */
  readonly recordDurably: (event: AuditEventInput) => Promise<void>;
  readonly log: Logger;
  readonly metrics: Metrics;
}

/**
 * What makes the audit record trustworthy outside the gateway, all off the statement path: signed checkpoints
 * of the chain head (audit/checkpointer.ts) and the export of every event to external sinks
 * (audit-export/), and retention (audit-retention/).
 */
export function startAuditTrust(options: AuditTrustOptions): AuditTrust {
  const { config, stores, log } = options;
  const signer = loadCheckpointSigner(config, { create: true });
  let checkpointer: Checkpointer | undefined;
  if (signer === undefined) {
    if (config.audit.checkpoints.enabled)
      log.warn(
        "audit checkpoints are off: a shared store needs audit.checkpoints.key (one key for every replica)",
      );
  } else {
    checkpointer = startCheckpointer({
      signer,
      head: () => stores.audit.head(),
      record: (event) => options.recordDurably(event),
      everyEvents: config.audit.checkpoints.every_events,
      everyMs: parseDuration(config.audit.checkpoints.every),
      onError: (error) => log.warn({ err: error }, "audit checkpoint not written"),
    });
    log.info({ key: signer.verifierKey }, "audit checkpoints signed with this verifier key");
  }
  const exporter = startExport(options);
  const pruner = startRetention(options);
  return {
    async stop() {
      pruner?.stop();
      checkpointer?.stop();
      // After the last checkpoint: the next start exports it and gateway_stop.
      await exporter?.stop();
      await checkpointer
        ?.checkpoint()
        .catch((error: unknown) => log.warn({ err: error }, "final audit checkpoint not written"));
    },
  };
}

function startExport(options: AuditTrustOptions): AuditExporter | undefined {
  const { config, stores, log } = options;
  if (config.audit.export.length === 0) return undefined;
  const cursors = stores.exportCursors;
  if (cursors === undefined) {
    log.warn("audit.export is not supported on this store: no events are exported");
    return undefined;
  }
  const exporter = startAuditExporter({
    sinks: createExportSinks(config),
    reader: stores.auditReader,
    cursors,
    headSeq: () => stores.audit.head().seq,
    pollMs: parseDuration(config.audit.export_poll),
    // The message is a status or errno code: sink secrets never reach it.
    onFailure: (sink, error) =>
      log.warn({ sink, error: (error as Error).message }, "audit export delivery failed, retrying"),
  });
  options.metrics.watchAuditExport(() => exporter.status());
  return exporter;
}

function startRetention(options: AuditTrustOptions): AuditPruner | undefined {
  const { config, stores, log } = options;
  if (config.audit.retention === undefined) return undefined;
  if (stores.retention === undefined) {
    log.warn("audit.retention is not supported on this store: nothing is pruned");
    return undefined;
  }
  const pruner = startAuditPruner({
    retention: stores.retention,
    retentionMs: parseDuration(config.audit.retention),
    sinks: config.audit.export.map((sink) => sink.name),
    ...(stores.exportCursors === undefined ? {} : { cursors: stores.exportCursors }),
    liveSessions: stores.liveSessions,
    everyMs: parseDuration(config.audit.prune_every),
    firstAfterMs: 1000,
    record: (data) => options.recordDurably({ kind: "audit_pruned", sessionId: null, data }),
    onError: (error) => log.warn({ err: error }, "audit retention did not run; trying again later"),
  });
  return pruner;
}
