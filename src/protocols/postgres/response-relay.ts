import type { MaskTally } from "../../masking/mask-tally.js";
import type { Operation } from "../../operation/operation.js";
import type { OperationResult } from "../../pipeline/pipeline-types.js";
import { decodeBackend } from "./decode-backend.js";
import { BACKEND, readyStatus } from "./message-codes.js";
import type { Frame, TransactionStatus } from "./messages.js";
import { guardParameterStatus } from "./parameter-status-guard.js";
import {
  type ForwardedEntry,
  noteCommandComplete,
  type ResponseTracker,
  resultOf,
} from "./response-tracker.js";
import type { ResultMasker } from "./result-masker.js";

/**
 * The server-to-client half of a session: each upstream frame is guarded (pinned parameters), masked, matched
 * to the operation it answers (rows, tags, errors), and the transaction status and COPY IN state it implies are
 * kept here for the client half to read. Bytes go out as received unless masking or a guard rewrote them.
 */
export class ResponseRelay {
  status: TransactionStatus;
  /** The server asked for COPY data; the client half lets CopyData/CopyDone/CopyFail through. */
  copyIn = false;

  constructor(
    private readonly tracker: ResponseTracker,
    private readonly options: {
      readonly masker: ResultMasker | undefined;
      readonly visibleUser: string;
      readonly initialStatus: TransactionStatus;
      readonly complete: (operation: Operation, result: OperationResult) => void;
      /** Told what masking did to an operation's result, just before it completes (the `mask` trace span). */
      readonly masked?: (operation: Operation, tally: MaskTally) => void;
      /** A batch that removed statement names was answered (successfully or not). */
      readonly settled?: (removedNames: readonly string[], succeeded: boolean) => void;
      /** A statement held to a row ceiling finished running (not yet committed): judge its count. */
      readonly settleCeiling?: (entry: ForwardedEntry, toClient: Buffer[]) => void;
    },
  ) {
    this.status = options.initialStatus;
  }

  /** Appends what the client must receive for `received` to `toClient`; throws on an upstream violation. */
  handle(received: Frame, toClient: Buffer[]): void {
    const head = this.tracker.head;
    if (received.type === BACKEND.ParameterStatus) {
      toClient.push(guardParameterStatus(received, this.options.visibleUser));
      return;
    }
    if (
      head?.kind === "forwarded" &&
      head.hiddenAnswers !== undefined &&
      (received.type === BACKEND.RowDescription || received.type === BACKEND.NoData)
    ) {
      const position = head.describeAnswers ?? 0;
      head.describeAnswers = position + 1;
      if (head.hiddenAnswers.has(position)) {
        this.mask(received); // the masker learns the result's columns; the client did not ask for this answer
        return;
      }
    }
    // Everything after this point sees the masked frame: it is what the client gets and what is recorded.
    const frame =
      this.options.masker === undefined || head?.kind === "poison" ? received : this.mask(received);
    if (frame === undefined) return;
    const type = frame.type;
    if (head?.kind === "poison") {
      if (type === BACKEND.ErrorResponse) head.errors?.push(Buffer.from(frame.raw));
      if (type === BACKEND.ReadyForQuery) {
        this.status = readyStatus(frame.body);
        this.tracker.shift();
        this.tracker.drainSynthetic(toClient);
      }
      return;
    }
    const entry = head?.kind === "forwarded" ? head : undefined;
    switch (type) {
      case BACKEND.DataRow:
        if (entry !== undefined) entry.rows++;
        break;
      case BACKEND.CommandComplete:
        if (entry !== undefined) noteCommandComplete(entry, frame);
        if (entry?.ceiling !== undefined) {
          entry.ceiling.heldTags.push(Buffer.from(frame.raw));
          return;
        }
        break;
      case BACKEND.ErrorResponse:
        if (entry !== undefined && entry.error === undefined) {
          const decoded = decodeBackend(frame);
          if (decoded.kind === "ErrorResponse")
            entry.error = { code: decoded.fields.code, message: decoded.fields.message.slice(0, 512) };
        }
        break;
      case BACKEND.CopyInResponse:
        this.copyIn = true;
        break;
      case BACKEND.CopyBothResponse:
        throw new Error("the server started COPY BOTH (replication), which Latch does not relay");
      case BACKEND.ReadyForQuery:
        this.status = readyStatus(frame.body);
        this.copyIn = false;
        if (entry?.ceiling !== undefined) {
          // The count is judged before the client hears the statement finished (row-ceiling.ts).
          this.tracker.shift();
          this.options.masker?.tally.reset(); // the ceiling's verdict, not masking, ends this result
          this.options.settleCeiling?.(entry, toClient);
          return;
        }
        toClient.push(frame.raw);
        this.tracker.finishThroughReady((done) => {
          if (done.removedNames !== undefined)
            this.options.settled?.(done.removedNames, done.error === undefined);
          if (done.operation !== undefined) {
            const tally = this.options.masker?.tally;
            // The result up to this ReadyForQuery is the operation's: its tally goes to the first one finished.
            if (tally?.touched === true) {
              this.options.masked?.(done.operation, tally);
              tally.reset();
            }
            this.options.complete(done.operation, resultOf(done, performance.now()));
          }
        });
        this.options.masker?.tally.reset(); // masked answers no operation claimed (hidden Describes) count for none
        this.tracker.drainSynthetic(toClient);
        return;
    }
    toClient.push(frame.raw);
  }

  private mask(frame: Frame): Frame | undefined {
    const out = this.options.masker!.onServerFrame(frame);
    if (out === null) return undefined;
    if (out === frame.raw) return frame;
    return { type: out[0]!, raw: out, body: out.subarray(5) };
  }
}
