/**
 * A refused batch, answered in-protocol: recorded, an ErrorResponse queued behind whatever the server is still
 * answering, then ReadyForQuery (or, for a Flush-ended batch, everything discarded up to the next Sync).
 */
import type { LatchError } from "../../errors.js";
import { encodeReadyForQuery } from "./encode-backend.js";
import { encodeQuery } from "./encode-frontend.js";
import { errorFrame } from "./errors.js";
import type { FrontendMessage } from "./messages.js";
import { refusedOperation } from "./refused-batch.js";
import type { PgSessionContext, PgSessionOptions } from "./session-context.js";

/** A statement that can only fail with a syntax error: used to abort the server's transaction on a denial. */
export const POISON_QUERY = encodeQuery("/* latch: statement denied by policy */ LATCH_DENIED");

/**
 * Answers a refused batch in-protocol. Inside a transaction the server's transaction is put into the failed
 * state too (a statement that can only fail), so COMMIT cannot keep half of what the client sent.
 */
export function denyBatch(
  context: PgSessionContext,
  error: LatchError,
  endsWithReady: boolean,
  toServer: Buffer[],
  toClient: Buffer[],
): void {
  if (context.responses.status === "T") {
    toServer.push(POISON_QUERY);
    context.tracker.push({ kind: "poison" });
  }
  answerInOrder(context, toClient, () => errorFrame(error));
  if (endsWithReady) answerInOrder(context, toClient, () => encodeReadyForQuery(context.responses.status));
  else context.state.discardUntilSync = true;
}

/** Queues a gateway-made answer behind everything already forwarded. */
export function answerInOrder(context: PgSessionContext, toClient: Buffer[], build: () => Buffer): void {
  if (context.tracker.idle) toClient.push(build());
  else context.tracker.push({ kind: "synthetic", build });
}

/** A batch refused before policy (examination, masking rule), for the record. */
export function recordRefusal(
  options: PgSessionOptions,
  error: LatchError,
  messages: readonly FrontendMessage[],
  receivedAt: number,
): void {
  const { id, connection, identity } = options.session;
  options.pipeline.recordRefusal(
    refusedOperation(messages, { sessionId: id, connection, identity, receivedAt }),
    error,
  );
}
