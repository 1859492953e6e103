/**
 * The server's answer to the running command, packet by packet: tracked to its end, handed to the masker on
 * the way to the client, fed to the row ceiling's steps when the command is held to one, and recorded as the
 * operation's result once complete (the masked figures, as the client got them).
 */
import { type CeilingContext, type CeilingStep, hiddenAnswered, statementFinished } from "./ceiling-steps.js";
import type { PacketReader } from "./packet-reader.js";
import { type ResponseSummary, ResponseTracker } from "./response-tracker.js";
import type { MysqlSessionContext, Running, RunningCeiling } from "./session-context.js";
import { answeredError, answeredRows, deliveredRows } from "./session-steps.js";

/**
 * Relays every complete packet in the reader; what the client gets is pushed to `out` (one write later), and
 * each command answered in full to `finished`, to be recorded (`recordFinished`) once the client has it.
 */
export function relayServerPackets(
  context: MysqlSessionContext,
  packets: PacketReader,
  out: Buffer[],
  finished: Finished[],
): void {
  const state = context.state;
  for (;;) {
    const running = state.running;
    // Without masking or a ceiling the packets go out as they came: relayed a run at a time, no message each.
    if (running !== undefined && running.ceiling === undefined && context.options.masker === undefined) {
      const relayed = relayUnchanged(context, running, packets, out, finished);
      if (relayed === "wait") return;
      if (relayed === "done") continue;
      // "whole": the next message spans continuation packets; the general path below reads it whole.
    }
    const message = packets.next();
    if (message === undefined) return;
    if (running === undefined) {
      // Unsolicited: the server is ending the connection (an ERR on KILL or shutdown) - pass it on.
      out.push(message.raw);
      continue;
    }
    const ceiling = running.ceiling;
    if (ceiling?.hidden !== undefined) {
      // Latch's own START TRANSACTION / COMMIT / ROLLBACK: answered to Latch, never to the client.
      const answer = ceiling.hidden.push(message.payload);
      if (answer === undefined) continue;
      ceiling.hidden = undefined;
      ceilingStep(
        context,
        running,
        hiddenAnswered(ceiling, answer, ceilingContext(context, ceiling)),
        out,
        finished,
      );
      continue;
    }
    const done = running.tracker.push(message.payload);
    const masker = running.tracker.kind === "prepare" ? undefined : context.options.masker;
    const relayed = masker === undefined ? message.raw : masker.relay(message, running.tracker.kind);
    if (done !== undefined && ceiling !== undefined) {
      ceilingStep(
        context,
        running,
        statementFinished(ceiling, done, relayed, ceilingContext(context, ceiling)),
        out,
        finished,
      );
      continue;
    }
    // Not copied: the reader never writes over a returned message (packet-reader.ts), and the write of `out`
    // (session.ts) sends back-to-back packets as one view of the chunk they arrived in.
    if (relayed !== undefined && relayed.length > 0) out.push(relayed);
    if (done !== undefined) completed(context, running, done, finished);
  }
}

/**
 * The running command's answer, packet by packet as its tracker follows it, pushed to `out` as one view of the
 * reader's bytes: up to the answer's end ("done"), the last complete packet ("wait": more bytes needed), or a
 * message in continuation packets ("whole": left in the reader for the general path).
 */
function relayUnchanged(
  context: MysqlSessionContext,
  running: Running,
  packets: PacketReader,
  out: Buffer[],
  finished: Finished[],
): "done" | "wait" | "whole" {
  const bytes = packets.bytes;
  const start = packets.position;
  let at = start;
  let done: ResponseSummary | undefined;
  let length = -1;
  try {
    length = packets.peekPacket();
    while (length >= 0) {
      done = running.tracker.pushAt(bytes, at + 4, length);
      at += 4 + length;
      // An emptied reader lets go of `bytes`; the view taken below stays valid (packet-reader.ts).
      packets.skip(4 + length);
      if (done !== undefined) break;
      length = packets.peekPacket();
    }
  } finally {
    // Also when a packet broke the protocol: what came before it goes out first, as packet by packet.
    if (at > start) out.push(bytes.subarray(start, at));
  }
  if (done === undefined) return length === -2 ? "whole" : "wait";
  completed(context, running, done, finished);
  return "done";
}

/** Carries out one step of a ceiling run (ceiling-steps.ts decides). */
function ceilingStep(
  context: MysqlSessionContext,
  running: Running,
  step: CeilingStep,
  out: Buffer[],
  finished: Finished[],
): void {
  const ceiling = running.ceiling!;
  if (step.kind === "send") {
    ceiling.hidden = new ResponseTracker(context.options.capabilities);
    context.toServer(step.toServer);
  } else if (step.kind === "run")
    context.forward(ceiling.message, running.operation, running.onSuccess, ceiling);
  else {
    context.state.status = step.status;
    if (step.rolledBack !== undefined) context.state.rolledBack = step.rolledBack;
    if (step.toClient !== undefined) out.push(step.toClient);
    completed(context, running, step.summary, finished);
  }
}

function ceilingContext(context: MysqlSessionContext, ceiling: RunningCeiling): CeilingContext {
  return {
    status: context.state.status,
    capabilities: context.options.capabilities,
    connection: context.options.session.connection,
    answerSequence: (ceiling.message.lastSequenceId + 1) & 0xff,
  };
}

/** A command answered in full, its operation to be recorded once the client has the answer. */
export interface Finished {
  readonly running: Running;
  readonly summary: ResponseSummary;
  readonly endedAt: number;
}

/** The command's answer is complete: the session's state follows it now, its record once the client has it. */
function completed(
  context: MysqlSessionContext,
  running: Running,
  summary: ResponseSummary,
  finished: Finished[],
): void {
  const state = context.state;
  state.running = undefined;
  if (summary.error === undefined) state.status = summary.status;
  if (summary.error === undefined) running.onSuccess?.();
  if (summary.error === undefined && summary.statementId !== undefined)
    running.onPrepared?.(summary.statementId, summary.parameterCount ?? 0);
  if (running.operation !== undefined) finished.push({ running, summary, endedAt: performance.now() });
}

/**
 * Records the operation_result of each finished command, in order. Called after the write that gave the client
 * its answer (as PostgreSQL does) and before the client's next command is read, so the masker still holds what
 * it did to this answer (its next `begin` comes with that command).
 */
export function recordFinished(context: MysqlSessionContext, finished: readonly Finished[]): void {
  const options = context.options;
  const masker = options.masker;
  for (const { running, summary, endedAt } of finished) {
    const operation = running.operation!;
    // As the client saw it: the masker's result_withheld, or the server's error scrubbed (it may echo a value).
    const error = answeredError(summary, masker);
    if (masker?.tally.touched === true) {
      options.pipeline.traceMask?.(operation, masker.tally);
      masker.tally.reset();
    }
    const durationMs = endedAt - running.startedAt;
    if (masker?.withheldReason !== undefined) {
      options.pipeline.complete(operation, {
        durationMs,
        ...deliveredRows(summary, masker),
        commandTags: NO_TAGS,
        ...(error === undefined ? {} : { error }),
      });
      continue;
    }
    // Nothing withheld: the rows the server answered, in one literal per case (no spread, no empty object).
    const rows = answeredRows(summary);
    options.pipeline.complete(
      operation,
      error === undefined
        ? { durationMs, rows, commandTags: NO_TAGS }
        : { durationMs, rows, commandTags: NO_TAGS, error },
    );
  }
}

/** MySQL answers carry no command tags (PostgreSQL's CommandComplete): one empty list for every record. */
const NO_TAGS: readonly string[] = [];
