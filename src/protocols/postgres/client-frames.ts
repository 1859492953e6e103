/**
 * Client frames after startup, one at a time: COPY data passes only while the server asked for it, Terminate
 * ends the session, the statement messages collect into a batch (bounded by maxBatchBytes) that goes to
 * admission at its Query, Sync or Flush, and anything else is refused or is a protocol violation.
 */
import { LatchError } from "../../errors.js";
import type { PgBatchAdmission } from "./batch-admission.js";
import { answerInOrder, denyBatch } from "./batch-denial.js";
import { decodeFrontend } from "./decode-frontend.js";
import { encodeReadyForQuery } from "./encode-backend.js";
import { FRONTEND } from "./message-codes.js";
import type { Frame } from "./messages.js";
import type { PgSessionContext } from "./session-context.js";

export class PgClientFrames {
  private batch: Buffer[] = [];
  private batchBytes = 0;

  constructor(
    private readonly context: PgSessionContext,
    private readonly admission: PgBatchAdmission,
  ) {}

  handle(frame: Frame, toServer: Buffer[], toClient: Buffer[]): void {
    const context = this.context;
    const responses = context.responses;
    const type = frame.type;
    if (type === FRONTEND.CopyData || type === FRONTEND.CopyDone || type === FRONTEND.CopyFail) {
      // Outside COPY IN the server drops these too; never forward what was not asked for.
      if (!responses.copyIn) return;
      if (type !== FRONTEND.CopyData) responses.copyIn = false;
      toServer.push(frame.raw);
      return;
    }
    if (responses.copyIn && type !== FRONTEND.Sync && type !== FRONTEND.Flush) {
      throw new LatchError("protocol_violation", {
        reason: "only COPY messages are allowed during COPY FROM STDIN",
      });
    }
    if (type === FRONTEND.Terminate) {
      context.end("client terminated the session");
      return;
    }
    if (context.state.discardUntilSync) {
      if (type === FRONTEND.Sync) {
        context.state.discardUntilSync = false;
        answerInOrder(context, toClient, () => encodeReadyForQuery(responses.status));
      }
      return;
    }
    if (
      type === FRONTEND.Query ||
      type === FRONTEND.Parse ||
      type === FRONTEND.Bind ||
      type === FRONTEND.Describe ||
      type === FRONTEND.Execute ||
      type === FRONTEND.Close ||
      type === FRONTEND.Sync ||
      type === FRONTEND.Flush
    ) {
      this.batch.push(Buffer.from(frame.raw));
      this.batchBytes += frame.raw.length;
      const limit = context.options.maxBatchBytes;
      if (this.batchBytes > limit) {
        throw new LatchError("message_too_large", { size: this.batchBytes, limit });
      }
      if (type === FRONTEND.Query || type === FRONTEND.Sync || type === FRONTEND.Flush) {
        const frames = this.batch;
        this.batch = [];
        this.batchBytes = 0;
        this.admission.run(frames, toServer, toClient);
      }
      return;
    }
    // FunctionCall, a stray PasswordMessage, or a type byte that is not in the protocol.
    const decoded = decodeFrontend(frame);
    if (decoded.kind === "FunctionCall") {
      denyBatch(
        context,
        new LatchError("feature_refused", {
          feature: "the FunctionCall message",
          why: "it calls functions outside statement policy",
        }),
        true,
        toServer,
        toClient,
      );
      return;
    }
    throw new LatchError("protocol_violation", {
      reason: `unexpected message type ${JSON.stringify(String.fromCharCode(type))} after startup`,
    });
  }
}
