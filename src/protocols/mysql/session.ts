/**
 * One authenticated MySQL client relayed to one upstream connection. Commands run one at a time, as the
 * protocol has them: a command is classified, admitted by the pipeline (authorize, approve, audit) and
 * forwarded as received; while it runs, later client bytes wait in the reader. A refusal is an ERR packet with
 * the command's next sequence id, and the session stays usable.
 *
 * This file is the session's lifecycle and its two byte streams; each command's handling is in
 * command-dispatch.ts (with query-command.ts, prepared-commands.ts and command-admission.ts), the server's
 * answers in server-relay.ts. They reach the session only through `MysqlSessionContext` (session-context.ts).
 */
import type { Duplex } from "node:stream";
import { LatchError } from "../../errors.js";
import type { Operation } from "../../operation/operation.js";
import { COMMAND } from "./command-codes.js";
import { MysqlCommandDispatch } from "./command-dispatch.js";
import { asLatchError, errorPacket } from "./errors.js";
import type { MysqlMessage, PacketReader } from "./packet-reader.js";
import { encodePacket } from "./packet-writer.js";
import { SERVER_STATUS } from "./response-packets.js";
import { ResponseTracker } from "./response-tracker.js";
import { readsDiagnostics } from "./result-masker.js";
import { type Finished, recordFinished, relayServerPackets } from "./server-relay.js";
import type {
  MysqlSessionContext,
  MysqlSessionOptions,
  MysqlSessionState,
  RunningCeiling,
} from "./session-context.js";
import { refusedOperation } from "./session-steps.js";

export type { MysqlSessionOptions } from "./session-context.js";

/** Bytes a client may send ahead of the running command before its socket is paused. */
const PIPELINED_BYTES = 1024 * 1024;

export class MysqlSession {
  private readonly state: MysqlSessionState;
  private draining: { error: LatchError; reason: string } | undefined;
  /** This session as its command handlers and the server relay see it. */
  private readonly context: MysqlSessionContext;
  private readonly commands: MysqlCommandDispatch;
  /** What one server chunk relays to the client and the commands it finished (onServerData). */
  private readonly out: Buffer[] = [];
  private readonly finished: Finished[] = [];
  private relaying = false;

  constructor(
    private readonly client: Duplex,
    private readonly clientPackets: PacketReader,
    private readonly server: Duplex,
    private readonly serverPackets: PacketReader,
    private readonly options: MysqlSessionOptions,
  ) {
    this.state = {
      running: undefined,
      admitting: false,
      closed: false,
      database: options.database,
      status: options.initialStatus ?? SERVER_STATUS.AUTOCOMMIT,
      rolledBack: undefined,
    };
    this.context = {
      options,
      state: this.state,
      toServer: (bytes) => this.server.write(bytes),
      end: (reason) => this.end(reason),
      forward: (message, operation, onSuccess, ceiling) =>
        this.forward(message, operation, onSuccess, ceiling),
      refuse: (message, error, text) => this.refuse(message, error, text),
      answer: (message, error) => this.answer(message, error),
      maskingRefused: (message, text) => this.maskingRefused(message, text),
      resume: () => this.onClientData(undefined),
    };
    this.commands = new MysqlCommandDispatch(this.context);
  }

  start(): void {
    this.client.on("data", (chunk: Buffer) => this.onClientData(chunk));
    this.server.on("data", (chunk: Buffer) => this.onServerData(chunk));
    this.client.on("close", () => this.end("client closed the connection"));
    this.server.on("close", () =>
      this.end(
        "upstream closed the connection",
        new LatchError("session_terminated", { reason: "the upstream server closed the connection" }),
      ),
    );
    this.client.on("error", (error) => this.options.log.debug({ err: error }, "client socket error"));
    this.server.on("error", (error) => this.options.log.warn({ err: error }, "upstream socket error"));
    this.onClientData(undefined);
    this.onServerData(undefined);
  }

  terminate(error: LatchError, reason = error.message): void {
    if (this.state.closed) return;
    this.end(reason, error);
  }

  drain(error: LatchError, reason = error.message): void {
    this.draining = { error, reason };
    this.endIfDrained();
  }

  private endIfDrained(): void {
    if (this.draining !== undefined && this.state.running === undefined && !this.state.admitting)
      this.terminate(this.draining.error, this.draining.reason);
  }

  private end(reason: string, clientError?: LatchError): void {
    const state = this.state;
    if (state.closed) return;
    state.closed = true;
    if (clientError !== undefined && !this.client.destroyed)
      this.client.write(errorPacket(clientError, state.running === undefined ? 0 : 1));
    const running = state.running;
    if (running?.operation !== undefined)
      this.options.pipeline.complete(running.operation, {
        durationMs: performance.now() - running.startedAt,
        rows: 0,
        commandTags: [],
        error: { code: "08S01", message: "session ended before the result was complete" },
      });
    state.running = undefined;
    if (!this.server.destroyed) this.server.end(encodePacket(Buffer.from([COMMAND.COM_QUIT]), 0));
    this.client.end();
    setTimeout(() => {
      this.client.destroy();
      this.server.destroy();
    }, 1000).unref();
    this.options.onClose(reason);
  }

  // ---- client -> server -------------------------------------------------------------------------------------

  private onClientData(chunk: Buffer | undefined): void {
    const state = this.state;
    if (state.closed) return;
    try {
      if (chunk !== undefined) {
        this.options.session.touch();
        this.clientPackets.push(chunk);
      }
      while (!state.closed && state.running === undefined && !state.admitting) {
        const message = this.clientPackets.next();
        if (message === undefined) break;
        // Not copied: the reader never writes over a message it returned (packet-reader.ts), so the message
        // stays intact while its admission waits and later client bytes arrive.
        this.commands.handle(message);
      }
    } catch (error) {
      this.protocolFailure(error);
      return;
    }
    this.holdPipelined();
    this.endIfDrained();
  }

  private forward(
    message: MysqlMessage,
    operation: Operation | undefined,
    onSuccess?: () => void,
    ceiling?: RunningCeiling,
  ): void {
    const tracker = new ResponseTracker(this.options.capabilities);
    const startedAt = performance.now();
    // Two literals, not a spread: one object shape per kind, built in place.
    this.state.running =
      ceiling === undefined
        ? { operation, tracker, startedAt, onSuccess }
        : { operation, tracker, startedAt, onSuccess, ceiling };
    const code = message.payload[0];
    this.options.masker?.begin({
      binary: code === COMMAND.COM_STMT_EXECUTE,
      echoesDiagnostics:
        code === COMMAND.COM_QUERY && readsDiagnostics(message.payload.toString("latin1", 1)),
    });
    this.server.write(message.raw);
  }

  private refuse(message: MysqlMessage, error: LatchError, text: string): void {
    this.options.pipeline.recordRefusal(refusedOperation(this.options.session, text), error);
    this.answer(message, error);
  }

  /** Masked columns in expressions, or probed with strict: refused before policy. */
  private maskingRefused(message: MysqlMessage, text: string): boolean {
    const check = this.options.masker?.checkStatement(text, this.state.database);
    if (check === undefined || check.ok) return false;
    this.refuse(message, new LatchError("statement_denied", { reason: check.reason }), text);
    return true;
  }

  private answer(message: MysqlMessage, error: LatchError): void {
    this.client.write(errorPacket(error, (message.lastSequenceId + 1) & 0xff));
  }

  // ---- server -> client -------------------------------------------------------------------------------------

  private onServerData(chunk: Buffer | undefined): void {
    if (this.state.closed) return;
    // The session's two lists, emptied after each chunk (no two arrays per answer); a call made while they are
    // in use (sockets do not emit data from within a write, but a stub might) gets lists of its own.
    const outer = !this.relaying;
    const out = outer ? this.out : [];
    const finished = outer ? this.finished : [];
    this.relaying = true;
    try {
      this.relayServerData(chunk, out, finished);
    } finally {
      out.length = 0;
      finished.length = 0;
      if (outer) this.relaying = false;
    }
  }

  private relayServerData(chunk: Buffer | undefined, out: Buffer[], finished: Finished[]): void {
    try {
      if (chunk !== undefined) {
        this.options.session.touch();
        this.serverPackets.push(chunk);
      }
      relayServerPackets(this.context, this.serverPackets, out, finished);
    } catch (error) {
      this.options.log.warn({ err: error }, "upstream protocol failure");
      if (out.length > 0) this.client.write(Buffer.concat(out));
      if (finished.length > 0) recordFinished(this.context, finished);
      this.end(
        "upstream protocol failure",
        new LatchError("upstream_protocol", {
          name: this.options.session.connection,
          reason: (error as Error).message,
        }),
      );
      return;
    }
    if (out.length > 0) this.send(joined(out));
    // Recorded once the client has its answer, before its next command is read (server-relay.ts).
    if (finished.length > 0) recordFinished(this.context, finished);
    if (this.state.running === undefined) this.onClientData(undefined);
  }

  /** A client that reads slowly pauses the server's socket, so a big result waits in the server, not here. */
  private send(bytes: Buffer): void {
    if (this.client.destroyed) return;
    if (!this.client.write(bytes) && !this.server.isPaused()) {
      this.server.pause();
      this.client.once("drain", () => this.server.resume());
    }
  }

  /**
   * Commands run one at a time; what a client pipelines behind the running one waits in the reader. Past
   * PIPELINED_BYTES the client's socket is paused until the running command is done, so a client cannot grow
   * the reader without bound.
   */
  private holdPipelined(): void {
    const state = this.state;
    const busy = state.running !== undefined || state.admitting;
    if (busy && this.clientPackets.buffered > PIPELINED_BYTES) {
      if (!this.client.isPaused()) this.client.pause();
    } else if (this.client.isPaused()) this.client.resume();
  }

  private protocolFailure(error: unknown): void {
    const latchError =
      error instanceof LatchError
        ? error
        : new LatchError("protocol_violation", { reason: (error as Error).message });
    this.options.pipeline.recordProtocolError(this.options.session.id, latchError);
    this.terminate(
      asLatchError(latchError, this.options.session.id),
      `protocol violation: ${latchError.message}`,
    );
  }
}

/**
 * One buffer for one write: packets relayed unchanged lie back to back in the chunk they came in (or in the
 * reader's buffer), so they are sent as one view of it; only packets from different places are copied together.
 */
export function joined(out: readonly Buffer[]): Buffer {
  const first = out[0]!;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < out.length; i++) {
    const next = out[i]!;
    if (next.buffer !== first.buffer || next.byteOffset !== end) return Buffer.concat(out);
    end += next.length;
  }
  return out.length === 1 ? first : Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}
