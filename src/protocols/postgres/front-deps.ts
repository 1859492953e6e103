import type tls from "node:tls";
import type { Logger } from "pino";
import type { LatchConfig } from "../../config/schema.js";
import type { PostgresEphemeralRoles } from "../../credentials/postgres-ephemeral.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { SessionGate } from "../../session/session-gate.js";
import type { StatementClassifier } from "../../sql/classification.js";
import type { ConnectionTicket } from "../connection-limits.js";
import type { CancelRegistry } from "./cancel-registry.js";
import type { ConnectionMasking } from "./connection-masking.js";
import type { UpstreamPool } from "./upstream-pool.js";

/** What the PostgreSQL front needs from the gateway: the handshake (front.ts) and the session start (session-start.ts). */
export interface PostgresFrontDeps {
  readonly config: LatchConfig;
  readonly tls: tls.SecureContext;
  readonly gate: SessionGate;
  readonly classifier: StatementClassifier;
  readonly pipeline: Admitter;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly cancels: CancelRegistry;
  /** Masking per connection name (connections without masking profiles are absent). */
  readonly masking: ReadonlyMap<string, ConnectionMasking>;
  /** Per-session upstream roles per connection name (connections without `ephemeral:` are absent). */
  readonly ephemeral?: ReadonlyMap<string, PostgresEphemeralRoles>;
  /** The listener's admission of this connection: told when the handshake is over. */
  readonly ticket?: ConnectionTicket;
  /** Idle upstream connections of the connections that set `pool:` (absent: every session dials). */
  readonly pool?: UpstreamPool;
}
