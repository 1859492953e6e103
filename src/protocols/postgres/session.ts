import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { LatchError } from "../../errors.js";
import type { Operation } from "../../operation/operation.js";
import type { Admitter, ApprovalHold } from "../../pipeline/operation-pipeline.js";
import type { SessionHandle } from "../../session/session-handle.js";
import type { StatementClassifier } from "../../sql/classification.js";
import { examineBatch } from "./batch-examiner.js";
import { decodeFrontend } from "./decode-frontend.js";
import { encodeReadyForQuery } from "./encode-backend.js";
import { encodeQuery, encodeTerminate } from "./encode-frontend.js";
import { asLatchError, errorFrame } from "./errors.js";
import { copyFrame } from "./frame-copy.js";
import type { FrameReader } from "./frame-reader.js";
import { FRONTEND } from "./message-codes.js";
import type { Frame, FrontendMessage, TransactionStatus } from "./messages.js";
import { describePortalsBeforeExecute } from "./portal-describe.js";
import { PreparedRegistry } from "./prepared-registry.js";
import { maskingRefusal, refusedOperation } from "./refused-batch.js";
import { ResponseRelay } from "./response-relay.js";
import { type CeilingState, type ForwardedEntry, ResponseTracker, resultOf } from "./response-tracker.js";
import type { ResultMasker } from "./result-masker.js";
import { CEILING_NEEDS_SYNC, openCeiling, settleCeiling } from "./row-ceiling.js";
import { heldNotice } from "./session-notices.js";
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

/** A statement that can only fail with a syntax error: used to abort the server's transaction on a denial. */
const POISON_QUERY = encodeQuery("/* latch: statement denied by policy */ LATCH_DENIED");

/**
 * One authenticated client relayed to one upstream backend. Client messages are grouped into batches (a Query,
 * or extended-protocol messages up to Sync or Flush), examined, admitted by the pipeline and forwarded as
 * received; a denied batch is answered in-protocol and never reaches the server.
 */
export class PgSession {
  private readonly registry = new PreparedRegistry();
  private readonly tracker = new ResponseTracker();
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private readonly responses: ResponseRelay;
  /** After a denial in a Flush-ended batch, PostgreSQL semantics: ignore messages until Sync. */
  private discardUntilSync = false;
  private closed = false;
  private awaitingAdmission = false;
  /** Set by drain(): the session ends at the next moment nothing is in flight. */
  private draining: { error: LatchError; reason: string } | undefined;
  private awaitingCatalog = false;
  /** A server frame waiting for its catalog lookup (copied: the reader's buffer moves on). */
  private heldServerFrame: Frame | undefined;
  /** Bound parameter previews on a masked connection go through its detectors before they are recorded. */
  private readonly maskParameterPreview: ((text: string) => string) | undefined;

  constructor(
    private readonly client: Duplex,
    private readonly clientFrames: FrameReader,
    private readonly server: Duplex,
    private readonly serverFrames: FrameReader,
    private readonly options: PgSessionOptions,
  ) {
    const masker = options.masker;
    this.maskParameterPreview = masker && ((text) => masker.maskParameterPreview(text));
    this.responses = new ResponseRelay(this.tracker, {
      masker: options.masker,
      visibleUser: options.visibleUser,
      initialStatus: options.initialStatus,
      complete: (operation, result) => options.pipeline.complete(operation, result),
      masked: (operation, tally) => options.pipeline.traceMask?.(operation, tally),
      settled: (names, succeeded) => this.registry.settleRemovals(names, succeeded),
      settleCeiling: (entry, toClient) => this.settleCeiling(entry, toClient),
    });
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
    // Bytes that arrived together with the handshake are processed first.
    this.onClientData(undefined);
    this.onServerData(undefined);
  }

  /** Ends the session from the gateway side with a FATAL error the client can read. */
  terminate(error: LatchError, reason = error.message): void {
    if (this.closed) return;
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
    if (this.draining === undefined || this.closed) return;
    if (this.tracker.idle && !this.awaitingAdmission)
      this.terminate(this.draining.error, this.draining.reason);
  }

  private end(reason: string, clientError?: LatchError): void {
    if (this.closed) return;
    this.closed = true;
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
    if (!this.server.destroyed) this.server.end(encodeTerminate());
    this.client.end();
    setTimeout(() => {
      this.client.destroy();
      this.server.destroy();
    }, 1000).unref();
    this.options.onClose(reason);
  }

  // ---- client -> server ---------------------------------------------------------------------------------

  private onClientData(chunk: Buffer | undefined): void {
    if (this.closed) return;
    if (chunk !== undefined) this.options.session.touch();
    const toServer: Buffer[] = [];
    const toClient: Buffer[] = [];
    try {
      if (chunk !== undefined) this.clientFrames.push(chunk);
      // While an operation waits for admission, later frames stay in the reader: order is preserved.
      while (!this.awaitingAdmission) {
        const frame = this.clientFrames.next();
        if (frame === undefined) break;
        this.onClientFrame(frame, toServer, toClient);
        if (this.closed) return;
      }
    } catch (error) {
      this.protocolFailure(error);
      return;
    }
    this.send(this.server, toServer, this.client);
    this.send(this.client, toClient, this.server);
    this.endIfDrained();
  }

  private onClientFrame(frame: Frame, toServer: Buffer[], toClient: Buffer[]): void {
    const type = frame.type;
    if (type === FRONTEND.CopyData || type === FRONTEND.CopyDone || type === FRONTEND.CopyFail) {
      // Outside COPY IN the server drops these too; never forward what was not asked for.
      if (!this.responses.copyIn) return;
      if (type !== FRONTEND.CopyData) this.responses.copyIn = false;
      toServer.push(frame.raw);
      return;
    }
    if (this.responses.copyIn && type !== FRONTEND.Sync && type !== FRONTEND.Flush) {
      throw new LatchError("protocol_violation", {
        reason: "only COPY messages are allowed during COPY FROM STDIN",
      });
    }
    if (type === FRONTEND.Terminate) {
      this.end("client terminated the session");
      return;
    }
    if (this.discardUntilSync) {
      if (type === FRONTEND.Sync) {
        this.discardUntilSync = false;
        this.answer(toClient, () => encodeReadyForQuery(this.responses.status));
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
      if (this.batchBytes > this.options.maxBatchBytes) {
        throw new LatchError("message_too_large", {
          size: this.batchBytes,
          limit: this.options.maxBatchBytes,
        });
      }
      if (type === FRONTEND.Query || type === FRONTEND.Sync || type === FRONTEND.Flush)
        this.runBatch(toServer, toClient);
      return;
    }
    // FunctionCall, a stray PasswordMessage, or a type byte that is not in the protocol.
    const decoded = decodeFrontend(frame);
    if (decoded.kind === "FunctionCall") {
      this.deny(
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

  private runBatch(toServer: Buffer[], toClient: Buffer[]): void {
    const frames = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    const messages: FrontendMessage[] = frames.map((raw) =>
      decodeFrontend({ type: raw[0]!, raw, body: raw.subarray(5) }),
    );
    const last = messages[messages.length - 1]!;
    const endsWithReady = last.kind !== "Flush";
    const receivedAt = Date.now();
    const examination =
      maskingRefusal(this.options.masker, messages) ??
      examineBatch(messages, this.registry, this.options.classifier, this.maskParameterPreview);
    if (!examination.ok) {
      this.registry.rollback();
      this.recordRefusal(examination.error, messages, receivedAt);
      this.deny(examination.error, endsWithReady, toServer, toClient);
      return;
    }
    let operation: Operation | undefined;
    if (examination.steps.length > 0) {
      const session = this.options.session;
      operation = {
        id: randomUUID(),
        sessionId: session.id,
        protocol: "postgres",
        connection: session.connection,
        identity: session.identity,
        mode: last.kind === "Query" ? "simple" : "extended",
        steps: examination.steps,
        ...(examination.parameters.length > 0
          ? { parameters: examination.parameters, parameterDigests: examination.parameterDigests }
          : {}),
        receivedAt,
      };
      this.awaitingAdmission = true;
      const admitted = operation;
      void this.options.pipeline
        .admit(
          operation,
          { clientAddress: session.clientAddress, connectionLabels: session.connectionLabels },
          { onHeld: (hold) => this.tellHeld(hold), signal: session.signal, preview: this.options.preview },
        )
        .then((admission) => {
          this.awaitingAdmission = false;
          if (this.closed) return;
          const toServerNow: Buffer[] = [];
          const toClientNow: Buffer[] = [];
          if (admission.allowed) {
            if (admission.grantExpiresAt !== undefined) session.usedGrant(admission.grantExpiresAt);
            if (admission.rowCeiling !== undefined && !endsWithReady) {
              // Fail closed: the count is judged at the ReadyForQuery a Flush-ended batch does not get.
              this.registry.rollback();
              this.deny(CEILING_NEEDS_SYNC, endsWithReady, toServerNow, toClientNow);
            } else {
              const ceiling =
                admission.rowCeiling === undefined
                  ? undefined
                  : openCeiling(admission.rowCeiling, this.responses.status, toServerNow, this.tracker);
              this.forward(frames, admitted, endsWithReady, toServerNow, messages, ceiling);
              // Nothing else goes upstream until the statement's count is judged (settleCeiling).
              if (ceiling !== undefined) this.awaitingAdmission = true;
            }
          } else {
            this.registry.rollback();
            this.deny(admission.error, endsWithReady, toServerNow, toClientNow);
          }
          this.send(this.server, toServerNow, this.client);
          this.send(this.client, toClientNow, this.server);
          this.onClientData(undefined);
        });
      return;
    }
    this.forward(frames, undefined, endsWithReady, toServer, messages);
  }

  /** While held, the client hears why it waits (a NoticeResponse may arrive at any time in the protocol). */
  private tellHeld(hold: ApprovalHold): void {
    if (!this.closed) this.send(this.client, [heldNotice(hold)], this.server);
  }

  private forward(
    frames: readonly Buffer[],
    operation: Operation | undefined,
    endsWithReady: boolean,
    toServer: Buffer[],
    messages?: readonly FrontendMessage[],
    ceiling?: CeilingState,
  ): void {
    const removedNames = this.registry.commit();
    if (operation !== undefined) this.options.session.remember(operation.steps);
    const described =
      this.options.masker === undefined || messages === undefined
        ? undefined
        : describePortalsBeforeExecute(frames, messages);
    for (const raw of described?.frames ?? frames) toServer.push(raw);
    this.tracker.push({
      kind: "forwarded",
      operation,
      endsWithReady,
      startedAt: performance.now(),
      rows: 0,
      tags: [],
      error: undefined,
      ...(removedNames.length === 0 ? {} : { removedNames }),
      ...(described === undefined || described.hiddenAnswers.size === 0
        ? {}
        : { describeAnswers: 0, hiddenAnswers: described.hiddenAnswers }),
      ...(ceiling === undefined ? {} : { ceiling }),
    });
  }

  /** A statement held to its preview's row count finished: keep or roll back, then let the client go on. */
  private settleCeiling(entry: ForwardedEntry, toClient: Buffer[]): void {
    const state = entry.ceiling!;
    const operation = entry.operation;
    const verdict = settleCeiling(
      entry,
      state,
      () => this.responses.status,
      this.tracker,
      POISON_QUERY,
      (commitError) => {
        if (operation === undefined) return;
        const error = verdictError ?? commitError;
        this.options.pipeline.complete(operation, {
          ...resultOf(entry, performance.now()),
          ...(error === undefined ? {} : { error }),
        });
      },
    );
    const verdictError =
      verdict.refusal === undefined
        ? undefined
        : { code: verdict.refusal.code, message: verdict.refusal.message };
    this.send(this.server, verdict.toServer, this.client);
    this.tracker.drainSynthetic(toClient);
    this.awaitingAdmission = false;
    queueMicrotask(() => this.onClientData(undefined));
  }

  private recordRefusal(error: LatchError, messages: readonly FrontendMessage[], receivedAt: number): void {
    const { id, connection, identity } = this.options.session;
    this.options.pipeline.recordRefusal(
      refusedOperation(messages, { sessionId: id, connection, identity, receivedAt }),
      error,
    );
  }

  /**
   * Answers a refused batch in-protocol. Inside a transaction the server's transaction is put into the failed
   * state too (a statement that can only fail), so COMMIT cannot keep half of what the client sent.
   */
  private deny(error: LatchError, endsWithReady: boolean, toServer: Buffer[], toClient: Buffer[]): void {
    if (this.responses.status === "T") {
      toServer.push(POISON_QUERY);
      this.tracker.push({ kind: "poison" });
    }
    this.answer(toClient, () => errorFrame(error));
    if (endsWithReady) this.answer(toClient, () => encodeReadyForQuery(this.responses.status));
    else this.discardUntilSync = true;
  }

  /** Queues a gateway-made answer behind everything already forwarded. */
  private answer(toClient: Buffer[], build: () => Buffer): void {
    if (this.tracker.idle) toClient.push(build());
    else this.tracker.push({ kind: "synthetic", build });
  }

  // ---- server -> client ---------------------------------------------------------------------------------

  private onServerData(chunk: Buffer | undefined): void {
    if (this.closed) return;
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
        if (this.closed) return;
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
    this.endIfDrained();
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
