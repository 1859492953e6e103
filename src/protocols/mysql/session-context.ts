/**
 * What the MySQL session shares with the handlers it delegates to (command dispatch, prepared statements,
 * admission, the server relay): its options, the few fields of state they read and write, and the session
 * actions they call. The handlers see this, never the session itself.
 */
import type { Logger } from "pino";
import type { LatchError } from "../../errors.js";
import type { Operation } from "../../operation/operation.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { SessionHandle } from "../../session/session-handle.js";
import type { MysqlClassifier } from "../../sql/mysql/create-classifier.js";
import type { MysqlMessage } from "./packet-reader.js";
import type { ResponseTracker } from "./response-tracker.js";
import type { MysqlResultMasker } from "./result-masker.js";
import type { CeilingRun } from "./row-ceiling.js";
import type { MysqlSessionPreviewer } from "./session-preview.js";

export interface MysqlSessionOptions {
  readonly session: SessionHandle;
  readonly classifier: MysqlClassifier;
  readonly pipeline: Admitter;
  readonly log: Logger;
  /** Capabilities both sides agreed on (result set layout). */
  readonly capabilities: number;
  /** The connection's upstream database: where unqualified names resolve until a USE changes it. */
  readonly database: string;
  /** The connection's masking, when it has profiles: statement checks, rows, errors, recorded parameters. */
  readonly masker?: MysqlResultMasker;
  /** Previews of held writes (docs/approvals.md); the pipeline asks only when a @preview policy covers one. */
  readonly preview?: MysqlSessionPreviewer;
  /** The server status of the upstream login (autocommit, in transaction). */
  readonly initialStatus?: number;
  readonly onClose: (reason: string) => void;
}

/** A statement held to a row ceiling (row-ceiling.ts); `message` is the client's command, sent once the BEGIN is done. */
export type RunningCeiling = CeilingRun & { readonly message: MysqlMessage; hidden?: ResponseTracker };

/** The one command the server is answering (the protocol runs them one at a time). */
export interface Running {
  readonly operation: Operation | undefined;
  readonly tracker: ResponseTracker;
  readonly startedAt: number;
  /** Applied once the server answered without an error. */
  readonly onSuccess?: () => void;
  /** COM_STMT_PREPARE: told the id the server gave the statement. */
  readonly onPrepared?: (statementId: number, parameterCount: number) => void;
  readonly ceiling?: RunningCeiling;
}

/** Bound parameters of a COM_STMT_EXECUTE as recorded: previews (masked) and digests. */
export interface BoundParameters {
  readonly previews: (string | null)[];
  readonly digests: (string | null)[];
}

export interface MysqlSessionState {
  running: Running | undefined;
  /** A command is with the pipeline: later client bytes wait in the reader. */
  admitting: boolean;
  closed: boolean;
  /** Where unqualified names resolve now (a USE or COM_INIT_DB changes it once the server accepted it). */
  database: string;
  /** The server status of the last complete answer: autocommit and whether a transaction is open. */
  status: number;
  /** Set when Latch rolled back the client's transaction (row ceiling): only ROLLBACK/COMMIT end it. */
  rolledBack: string | undefined;
}

export interface MysqlSessionContext {
  readonly options: MysqlSessionOptions;
  readonly state: MysqlSessionState;
  /** Writes bytes to the upstream as they are. */
  toServer(bytes: Buffer): void;
  end(reason: string): void;
  /** Sends the client's command upstream; its answer is relayed to the client and recorded for `operation`. */
  forward(
    message: MysqlMessage,
    operation: Operation | undefined,
    onSuccess?: () => void,
    ceiling?: RunningCeiling,
  ): void;
  /** A refusal before policy (parse failure, refused command): recorded, then answered. */
  refuse(message: MysqlMessage, error: LatchError, text: string): void;
  /** Answers the command with an ERR packet. */
  answer(message: MysqlMessage, error: LatchError): void;
  /** The masking rules that refuse a text outright: true when it was refused (and answered). */
  maskingRefused(message: MysqlMessage, text: string): boolean;
  /** Goes on with the client's next command (after an admission settled). */
  resume(): void;
}
