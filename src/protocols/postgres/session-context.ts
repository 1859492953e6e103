/**
 * What the PostgreSQL session shares with the handlers it delegates to (client frame routing, batch admission,
 * denials): its options, the flags they read and write, the per-connection trackers, and the session actions
 * they call. Built once per session, so delegating adds nothing per statement.
 */
import type { Logger } from "pino";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { SessionHandle } from "../../session/session-handle.js";
import type { StatementClassifier } from "../../sql/classification.js";
import type { TransactionStatus } from "./messages.js";
import type { PreparedRegistry } from "./prepared-registry.js";
import type { ResponseRelay } from "./response-relay.js";
import type { ResponseTracker } from "./response-tracker.js";
import type { ResultMasker } from "./result-masker.js";
import type { SessionPreviewer } from "./session-preview.js";

export interface PgSessionOptions {
  readonly session: SessionHandle;
  readonly classifier: StatementClassifier;
  readonly pipeline: Admitter;
  readonly log: Logger;
  readonly maxBatchBytes: number;
  /** Value shown to the client instead of the upstream's session_authorization (the upstream user). */
  readonly visibleUser: string;
  readonly initialStatus: TransactionStatus;
  /** Masks results on the way to the client; absent when the connection masks nothing. */
  readonly masker?: ResultMasker;
  /** Previews of held writes (docs/approvals.md); the pipeline asks only when a @preview policy covers one. */
  readonly preview?: SessionPreviewer;
  readonly onClose: (reason: string) => void;
}

export interface PgSessionState {
  closed: boolean;
  /**
   * A batch is with the pipeline, or its row ceiling is being judged: later client frames stay in the reader,
   * so order is preserved.
   */
  awaitingAdmission: boolean;
  /** After a denial in a Flush-ended batch, PostgreSQL semantics: ignore messages until Sync. */
  discardUntilSync: boolean;
}

export interface PgSessionContext {
  readonly options: PgSessionOptions;
  readonly state: PgSessionState;
  /** Prepared statements and portals as the server has them (pending changes until a batch is forwarded). */
  readonly registry: PreparedRegistry;
  /** What was forwarded or queued, in order, awaiting the server's answers. */
  readonly tracker: ResponseTracker;
  /** The server's answers on their way to the client (transaction status, COPY IN). */
  readonly responses: ResponseRelay;
  end(reason: string): void;
  /** One write per burst to the server; a slow server pauses the client. */
  toServer(chunks: Buffer[]): void;
  /** One write per burst to the client; a slow client pauses the server. */
  toClient(chunks: Buffer[]): void;
  /** Goes on with the client frames waiting in the reader. */
  resume(): void;
}
