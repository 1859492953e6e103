import type { Duplex } from "node:stream";
import { LatchError } from "../../errors.js";
import type { Operation } from "../../operation/operation.js";
import type { OperationResult } from "../../pipeline/pipeline-types.js";
import { PgBatchAdmission } from "./batch-admission.js";
import { PgClientFrames } from "./client-frames.js";
import { decodeBackend } from "./decode-backend.js";
import { encodeTerminate } from "./encode-frontend.js";
import { asLatchError, errorFrame } from "./errors.js";
import { copyFrame } from "./frame-copy.js";
import type { FrameReader } from "./frame-reader.js";
import { BACKEND } from "./message-codes.js";
import type { Frame } from "./messages.js";
import { PreparedRegistry } from "./prepared-registry.js";
import { ResponseRelay } from "./response-relay.js";
import { ResponseTracker, resultOf } from "./response-tracker.js";
import type { PgSessionContext, PgSessionOptions, PgSessionState } from "./session-context.js";

export type { PgSessionOptions } from "./session-context.js";

/**
 * Given when the upstream connection may outlive its session (the connection has a pool): called instead of
 * ending the upstream when the client ended the session itself with the backend idle. The socket no longer
 * has the session's listeners; the callee owns it from then on (reset, pool or close). `reported` holds the
 * ParameterStatus values the server sent during the session (a setting a reload changed stays changed after
 * DISCARD ALL, so the next client must be told the new value).
 */
export type PgUpstreamReuse = (server: Duplex, reported: ReadonlyMap<string, string>) => void;

/**
 * One authenticated client relayed to one upstream backend. Client messages are grouped into batches (a Query,
 * or extended-protocol messages up to Sync or Flush), examined, admitted by the pipeline and forwarded as
 * received; a denied batch is answered in-protocol and never reaches the server.
 *
 * This file is the session's lifecycle and its two byte streams: client frames are routed in client-frames.ts,
 * batches admitted in batch-admission.ts (refusals in batch-denial.ts), server frames relayed by
 * response-relay.ts. They reach the session only through `PgSessionContext` (session-context.ts).
 */
export class PgSession {
  private readonly registry = new PreparedRegistry();
  private readonly tracker = new ResponseTracker();
  private readonly responses: ResponseRelay;
  private readonly state: PgSessionState = {
    closed: false,
    awaitingAdmission: false,
    discardUntilSync: false,
  };
  /** Set by drain(): the session ends at the next moment nothing is in flight. */
  private draining: { error: LatchError; reason: string } | undefined;
  private awaitingCatalog = false;
  /** A server frame waiting for its catalog lookup (copied: the reader's buffer moves on). */
  private heldServerFrame: Frame | undefined;
  private readonly admission: PgBatchAdmission;
  private readonly frames: PgClientFrames;
  /**
   * Results finished by the server frames of this turn, recorded once the client has them: recording a result
   * (its record, the metrics, the audit hand-off) is not on the statement's path (pairs: operation, result).
   */
  private finished: (Operation | OperationResult)[] = [];
  /** ParameterStatus values the server reported during the session; kept only when the upstream may be reused. */
  private readonly reported: Map<string, string> | undefined;
  private readonly onServerChunk = (chunk: Buffer) => this.onServerData(chunk);
  private readonly onServerClose = () =>
    this.end(
      "upstream closed the connection",
      new LatchError("session_terminated", { reason: "the upstream server closed the connection" }),
    );
  private readonly onServerError = (error: Error) =>
    this.options.log.warn({ err: error }, "upstream socket error");

  constructor(
    private readonly client: Duplex,
    private readonly clientFrames: FrameReader,
    private readonly server: Duplex,
    private readonly serverFrames: FrameReader,
    private readonly options: PgSessionOptions & { readonly reuse?: PgUpstreamReuse },
  ) {
    this.reported = options.reuse === undefined ? undefined : new Map();
    this.responses = new ResponseRelay(this.tracker, {
      masker: options.masker,
      visibleUser: options.visibleUser,
      initialStatus: options.initialStatus,
      complete: (operation, result) => this.finished.push(operation, result),
      masked: (operation, tally) => options.pipeline.traceMask?.(operation, tally),
      settled: (names, succeeded) => this.registry.settleRemovals(names, succeeded),
      settleCeiling: (entry, toClient) => this.admission.settleCeiling(entry, toClient),
    });
    const context: PgSessionContext = {
      options,
      state: this.state,
      registry: this.registry,
      tracker: this.tracker,
      responses: this.responses,
      // The handlers end a session only for the client's Terminate: the one end after which the backend may
      // serve another session.
      end: (reason) => this.end(reason, undefined, true),
      toServer: (chunks) => this.send(this.server, chunks, this.client),
      toClient: (chunks) => this.send(this.client, chunks, this.server),
      resume: () => this.onClientData(undefined),
    };
    this.admission = new PgBatchAdmission(context);
    this.frames = new PgClientFrames(context, this.admission);
  }

  start(): void {
    this.client.on("data", (chunk: Buffer) => this.onClientData(chunk));
    this.server.on("data", this.onServerChunk);
    this.client.on("close", () => this.end("client closed the connection"));
    this.server.on("close", this.onServerClose);
    this.client.on("error", (error) => this.options.log.debug({ err: error }, "client socket error"));
    this.server.on("error", this.onServerError);
    // Bytes that arrived together with the handshake are processed first.
    this.onClientData(undefined);
    this.onServerData(undefined);
  }

  /** Ends the session from the gateway side with a FATAL error the client can read. */
  terminate(error: LatchError, reason = error.message): void {
    if (this.state.closed) return;
    this.client.write(errorFrame(error, "FATAL"));
    this.end(reason);
  }

  /**
   * Ends the session once nothing it forwarded is still running upstream (its result reaches the client first).
   * A batch still being admitted (held for approval, or being recorded) has not run: it is cut at once.
   */
  drain(error: LatchError, reason = error.message): void {
    this.draining = { error, reason };
    this.endIfDrained();
  }

  private endIfDrained(): void {
    if (this.draining === undefined || this.state.closed) return;
    if (this.tracker.idle && !this.state.awaitingAdmission)
      this.terminate(this.draining.error, this.draining.reason);
  }

  private end(reason: string, clientError?: LatchError, clientTerminated = false): void {
    if (this.state.closed) return;
    const reuse = clientTerminated && this.upstreamReusable() ? this.options.reuse : undefined;
    this.state.closed = true;
    this.recordFinished();
    if (clientError !== undefined && !this.client.destroyed)
      this.client.write(errorFrame(clientError, "FATAL"));
    const now = performance.now();
    for (const entry of this.tracker.drainForwarded()) {
      if (entry.operation !== undefined) {
        this.options.pipeline.complete(entry.operation, {
          ...resultOf(entry, now),
          error: entry.error ?? { code: "08006", message: "session ended before the result was complete" },
        });
      }
    }
    if (reuse !== undefined) {
      this.server.off("data", this.onServerChunk);
      this.server.off("close", this.onServerClose);
      this.server.off("error", this.onServerError);
      reuse(this.server, this.reported ?? new Map());
    } else if (!this.server.destroyed) {
      // A session ended before start() (killed during the connect) has no error listener on the upstream yet.
      this.server.on("error", () => {});
      this.server.end(encodeTerminate());
    }
    this.client.end();
    setTimeout(() => {
      this.client.destroy();
      if (reuse === undefined) this.server.destroy();
    }, 1000).unref();
    this.options.onClose(reason);
  }

  /**
   * The backend holds nothing of this session but what DISCARD ALL removes: idle outside a transaction, every
   * answer relayed, no COPY, nothing buffered either way, and the session was not ended (kill, revocation,
   * shutdown drain) by the gateway.
   */
  private upstreamReusable(): boolean {
    const server = this.server;
    return (
      this.options.reuse !== undefined &&
      this.draining === undefined &&
      !this.options.session.signal.aborted &&
      this.tracker.idle &&
      !this.state.awaitingAdmission &&
      !this.state.discardUntilSync &&
      this.responses.status === "I" &&
      !this.responses.copyIn &&
      !this.awaitingCatalog &&
      this.heldServerFrame === undefined &&
      this.serverFrames.buffered === 0 &&
      !server.destroyed &&
      !server.isPaused() &&
      server.writableLength === 0
    );
  }

  // ---- client -> server ---------------------------------------------------------------------------------

  private onClientData(chunk: Buffer | undefined): void {
    const state = this.state;
    if (state.closed) return;
    if (chunk !== undefined) this.options.session.touch();
    const toServer: Buffer[] = [];
    const toClient: Buffer[] = [];
    try {
      if (chunk !== undefined) this.clientFrames.push(chunk);
      // While an operation waits for admission, later frames stay in the reader: order is preserved.
      while (!state.awaitingAdmission) {
        const frame = this.clientFrames.next();
        if (frame === undefined) break;
        this.frames.handle(frame, toServer, toClient);
        if (state.closed) return;
      }
    } catch (error) {
      this.protocolFailure(error);
      return;
    }
    this.send(this.server, toServer, this.client);
    this.send(this.client, toClient, this.server);
    this.endIfDrained();
  }

  // ---- server -> client ---------------------------------------------------------------------------------

  private onServerData(chunk: Buffer | undefined): void {
    if (this.state.closed) return;
    if (chunk !== undefined) this.options.session.touch();
    const toClient: Buffer[] = [];
    try {
      if (chunk !== undefined) this.serverFrames.push(chunk);
      // Column names for masking come from the catalog: rows wait (in the reader) until they are known.
      while (!this.awaitingCatalog) {
        const held = this.heldServerFrame;
        const frame = held ?? this.serverFrames.next();
        if (frame === undefined) break;
        this.heldServerFrame = undefined;
        if (this.reported !== undefined && frame.type === BACKEND.ParameterStatus) this.noteParameter(frame);
        const pending = held === undefined ? this.options.masker?.prepare(frame) : undefined;
        if (pending !== undefined) {
          this.heldServerFrame = copyFrame(frame);
          this.awaitingCatalog = true;
          pending
            .catch(() => undefined) // the masker withholds the result itself when the lookup failed
            .finally(() => {
              this.awaitingCatalog = false;
              this.onServerData(undefined);
            });
          break;
        }
        this.responses.handle(frame, toClient);
        if (this.state.closed) {
          this.recordFinished();
          return;
        }
      }
    } catch (error) {
      this.options.log.warn({ err: error }, "upstream protocol failure");
      this.send(this.client, toClient, this.server);
      this.end(
        "upstream protocol failure",
        new LatchError("upstream_protocol", {
          name: this.options.session.connection,
          reason: (error as Error).message,
        }),
      );
      return;
    }
    this.send(this.client, toClient, this.server);
    this.recordFinished();
    this.endIfDrained();
  }

  private noteParameter(frame: Frame): void {
    const decoded = decodeBackend(frame);
    if (decoded.kind === "ParameterStatus") this.reported!.set(decoded.name, decoded.value);
  }

  /** Hands the results the client now has to the pipeline, in the order they finished. */
  private recordFinished(): void {
    const finished = this.finished;
    if (finished.length === 0) return;
    this.finished = [];
    for (let i = 0; i < finished.length; i += 2)
      this.options.pipeline.complete(finished[i] as Operation, finished[i + 1] as OperationResult);
  }

  // ---- plumbing -------------------------------------------------------------------------------------------

  /** One write per burst; a slow reader pauses the other side instead of growing buffers without bound. */
  private send(target: Duplex, chunks: Buffer[], source: Duplex): void {
    if (chunks.length === 0 || target.destroyed) return;
    const ok = target.write(chunks.length === 1 ? Buffer.from(chunks[0]!) : Buffer.concat(chunks));
    if (!ok && !source.isPaused()) {
      source.pause();
      target.once("drain", () => source.resume());
    }
  }

  private protocolFailure(error: unknown): void {
    const latchError =
      error instanceof LatchError
        ? error
        : new LatchError("protocol_violation", { reason: (error as Error).message });
    if (!(error instanceof LatchError)) this.options.log.debug({ err: error }, "client protocol failure");
    this.options.pipeline.recordProtocolError(this.options.session.id, latchError);
    this.terminate(
      asLatchError(latchError, this.options.session.id),
      `protocol violation: ${latchError.message}`,
    );
  }
}
