/**
 * The server's answer to the running command, packet by packet: tracked to its end, handed to the masker on
 * the way to the client, fed to the row ceiling's steps when the command is held to one, and recorded as the
 * operation's result once complete (the masked figures, as the client got them).
 */
import { type CeilingContext, type CeilingStep, hiddenAnswered, statementFinished } from "./ceiling-steps.js";
import type { PacketReader } from "./packet-reader.js";
import { type ResponseSummary, ResponseTracker } from "./response-tracker.js";
import type { MysqlSessionContext, Running, RunningCeiling } from "./session-context.js";
import { answeredError, deliveredRows } from "./session-steps.js";

/** Relays every complete packet in the reader; what the client gets is pushed to `out` (one write later). */
export function relayServerPackets(context: MysqlSessionContext, packets: PacketReader, out: Buffer[]): void {
  const state = context.state;
  for (let message = packets.next(); message !== undefined; message = packets.next()) {
    const running = state.running;
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
      ceilingStep(context, running, hiddenAnswered(ceiling, answer, ceilingContext(context, ceiling)), out);
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
      );
      continue;
    }
    // Not copied: the reader never writes over a returned message (packet-reader.ts), and the write of `out`
    // (session.ts) sends back-to-back packets as one view of the chunk they arrived in.
    if (relayed !== undefined && relayed.length > 0) out.push(relayed);
    if (done !== undefined) completed(context, running, done);
  }
}

/** Carries out one step of a ceiling run (ceiling-steps.ts decides). */
function ceilingStep(context: MysqlSessionContext, running: Running, step: CeilingStep, out: Buffer[]): void {
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
    completed(context, running, step.summary);
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

function completed(context: MysqlSessionContext, running: Running, summary: ResponseSummary): void {
  const { options, state } = context;
  state.running = undefined;
  if (summary.error === undefined) state.status = summary.status;
  if (summary.error === undefined) running.onSuccess?.();
  if (summary.error === undefined && summary.statementId !== undefined)
    running.onPrepared?.(summary.statementId, summary.parameterCount ?? 0);
  // As the client saw it: the masker's result_withheld, or the server's error scrubbed (it may echo a value).
  const error = answeredError(summary, options.masker);
  const masker = options.masker;
  if (running.operation !== undefined && masker?.tally.touched === true) {
    options.pipeline.traceMask?.(running.operation, masker.tally);
    masker.tally.reset();
  }
  if (running.operation !== undefined)
    options.pipeline.complete(running.operation, {
      durationMs: performance.now() - running.startedAt,
      ...deliveredRows(summary, masker),
      commandTags: [],
      ...(error === undefined ? {} : { error }),
    });
}
