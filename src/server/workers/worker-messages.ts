/**
 * What the primary and its workers say to each other over the cluster IPC channel; nothing else travels there
 * but metrics scrapes (cluster-metrics.ts, and prom-client's own gathering messages): sessions, kills and
 * approvals go through the shared store, as between replicas on different hosts.
 */
export type WorkerMessage =
  /** worker -> primary: the gateway is up and serving (its listeners open, its `gateway_start` recorded). */
  | { readonly latch: "ready"; readonly gatewayId: string }
  /** primary -> one worker: reload the policies and announce it to every gateway of the store (SIGHUP). */
  | { readonly latch: "reload" };

/** worker -> primary: a scrape of /metrics came in; send the aggregate of every worker (cluster-metrics.ts). */
export interface MetricsRequest {
  readonly latch: "metrics-request";
  readonly id: number;
}

/** primary -> the worker that asked: the aggregate, or why there is none. */
export interface MetricsReply {
  readonly latch: "metrics-reply";
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  if (typeof message !== "object" || message === null) return false;
  const kind = (message as { latch?: unknown }).latch;
  return kind === "ready" || kind === "reload";
}

/** Set by the primary on each worker it forks: which slot (0-based) and the gateway id of this incarnation. */
export const WORKER_SLOT_ENV = "LATCH_WORKER_SLOT";
export const WORKER_GATEWAY_ID_ENV = "LATCH_WORKER_GATEWAY_ID";
