/**
 * One complete batch (a Query, or extended-protocol messages up to Sync or Flush) from examination to the
 * server: examined, built into an Operation, admitted by the pipeline (the client hears why while it is held),
 * then forwarded, or refused in-protocol. A statement held to its preview's row ceiling is settled here when
 * its count is known: kept or rolled back, then the client goes on.
 */
import { randomUUID } from "node:crypto";
import type { Operation } from "../../operation/operation.js";
import type {
  Admission,
  AdmitOptions,
  ApprovalHold,
  OperationContext,
} from "../../pipeline/pipeline-types.js";
import { denyBatch, POISON_QUERY, recordRefusal } from "./batch-denial.js";
import { examineBatch } from "./batch-examiner.js";
import { decodeFrontend } from "./decode-frontend.js";
import type { FrontendMessage } from "./messages.js";
import { describePortalsBeforeExecute } from "./portal-describe.js";
import { maskingRefusal } from "./refused-batch.js";
import { type CeilingState, type ForwardedEntry, resultOf } from "./response-tracker.js";
import { CEILING_NEEDS_SYNC, openCeiling, settleCeiling } from "./row-ceiling.js";
import type { PgSessionContext } from "./session-context.js";
import { heldNotice } from "./session-notices.js";

export class PgBatchAdmission {
  /** Bound parameter previews on a masked connection go through its detectors before they are recorded. */
  private readonly maskParameterPreview: ((text: string) => string) | undefined;

  /** What admission is told about this session: the same for every batch, so built once, not per statement. */
  private readonly admitOptions: AdmitOptions;
  private readonly admitContext: OperationContext;

  constructor(private readonly context: PgSessionContext) {
    const masker = context.options.masker;
    this.maskParameterPreview = masker && ((text) => masker.maskParameterPreview(text));
    const session = context.options.session;
    this.admitOptions = {
      onHeld: (hold: ApprovalHold) => this.tellHeld(hold),
      signal: session.signal,
      preview: context.options.preview,
    };
    this.admitContext = { clientAddress: session.clientAddress, connectionLabels: session.connectionLabels };
  }

  run(frames: Buffer[], toServer: Buffer[], toClient: Buffer[]): void {
    const context = this.context;
    const { options, registry } = context;
    const messages: FrontendMessage[] = frames.map((raw) =>
      decodeFrontend({ type: raw[0]!, raw, body: raw.subarray(5) }),
    );
    const last = messages[messages.length - 1]!;
    const endsWithReady = last.kind !== "Flush";
    const receivedAt = Date.now();
    const examination =
      maskingRefusal(options.masker, messages) ??
      examineBatch(messages, registry, options.classifier, this.maskParameterPreview);
    if (!examination.ok) {
      registry.rollback();
      recordRefusal(options, examination.error, messages, receivedAt);
      denyBatch(context, examination.error, endsWithReady, toServer, toClient);
      return;
    }
    let operation: Operation | undefined;
    if (examination.steps.length > 0) {
      const session = options.session;
      operation =
        examination.parameters.length === 0
          ? {
              id: randomUUID(),
              sessionId: session.id,
              protocol: "postgres",
              connection: session.connection,
              identity: session.identity,
              mode: last.kind === "Query" ? "simple" : "extended",
              steps: examination.steps,
              receivedAt,
            }
          : {
              id: randomUUID(),
              sessionId: session.id,
              protocol: "postgres",
              connection: session.connection,
              identity: session.identity,
              mode: last.kind === "Query" ? "simple" : "extended",
              steps: examination.steps,
              parameters: examination.parameters,
              // Read only by an approval's binding: digested then, not on every statement (batch-examiner.ts).
              // A getter in the literal, not Object.defineProperty afterwards (~0.5 µs, and the object went
              // to dictionary mode, slowing every later read of it).
              get parameterDigests() {
                return examination.parameterDigests;
              },
              receivedAt,
            };
      const pipeline = options.pipeline;
      const admitOptions = this.admitOptions;
      const admitContext = this.admitContext;
      // Decided and recorded within this call (one statement at a time): forwarded in this turn, with the rest
      // of what the client sent in it. Otherwise later frames wait in the reader until the admission settles.
      const decided =
        pipeline.admitNow === undefined
          ? pipeline.admit(operation, admitContext, admitOptions)
          : pipeline.admitNow(operation, admitContext, admitOptions);
      if (!(decided instanceof Promise)) {
        this.settle(decided, frames, operation, endsWithReady, messages, toServer, toClient);
        return;
      }
      context.state.awaitingAdmission = true;
      const admitted = operation;
      void decided.then((admission) => {
        // Through `this`, not the locals above: each captured local is a slot in every batch's closure context.
        const context = this.context;
        context.state.awaitingAdmission = false;
        if (context.state.closed) return;
        const toServerNow: Buffer[] = [];
        const toClientNow: Buffer[] = [];
        this.settle(admission, frames, admitted, endsWithReady, messages, toServerNow, toClientNow);
        context.toServer(toServerNow);
        context.toClient(toClientNow);
        context.resume();
      });
      return;
    }
    this.forward(frames, undefined, endsWithReady, toServer, messages);
  }

  /** An admitted batch goes upstream (held to its row ceiling, if any); a refused one is answered here. */
  private settle(
    admission: Admission,
    frames: Buffer[],
    operation: Operation,
    endsWithReady: boolean,
    messages: readonly FrontendMessage[],
    toServer: Buffer[],
    toClient: Buffer[],
  ): void {
    const context = this.context;
    if (!admission.allowed) {
      context.registry.rollback();
      denyBatch(context, admission.error, endsWithReady, toServer, toClient);
      return;
    }
    if (admission.grantExpiresAt !== undefined) context.options.session.usedGrant(admission.grantExpiresAt);
    if (admission.rowCeiling !== undefined && !endsWithReady) {
      // Fail closed: the count is judged at the ReadyForQuery a Flush-ended batch does not get.
      context.registry.rollback();
      denyBatch(context, CEILING_NEEDS_SYNC, endsWithReady, toServer, toClient);
      return;
    }
    const ceiling =
      admission.rowCeiling === undefined
        ? undefined
        : openCeiling(admission.rowCeiling, context.responses.status, toServer, context.tracker);
    this.forward(frames, operation, endsWithReady, toServer, messages, ceiling);
    // Nothing else goes upstream until the statement's count is judged (settleCeiling).
    if (ceiling !== undefined) context.state.awaitingAdmission = true;
  }

  /** A statement held to its preview's row count finished: keep or roll back, then let the client go on. */
  settleCeiling(entry: ForwardedEntry, toClient: Buffer[]): void {
    const context = this.context;
    const state = entry.ceiling!;
    const operation = entry.operation;
    const verdict = settleCeiling(
      entry,
      state,
      () => context.responses.status,
      context.tracker,
      POISON_QUERY,
      (commitError) => {
        if (operation === undefined) return;
        const error = verdictError ?? commitError;
        context.options.pipeline.complete(operation, {
          ...resultOf(entry, performance.now()),
          ...(error === undefined ? {} : { error }),
        });
      },
    );
    const verdictError =
      verdict.refusal === undefined
        ? undefined
        : { code: verdict.refusal.code, message: verdict.refusal.message };
    context.toServer(verdict.toServer);
    context.tracker.drainSynthetic(toClient);
    context.state.awaitingAdmission = false;
    queueMicrotask(() => context.resume());
  }

  /** While held, the client hears why it waits (a NoticeResponse may arrive at any time in the protocol). */
  private tellHeld(hold: ApprovalHold): void {
    if (!this.context.state.closed) this.context.toClient([heldNotice(hold)]);
  }

  private forward(
    frames: readonly Buffer[],
    operation: Operation | undefined,
    endsWithReady: boolean,
    toServer: Buffer[],
    messages?: readonly FrontendMessage[],
    ceiling?: CeilingState,
  ): void {
    const context = this.context;
    const removedNames = context.registry.commit();
    if (operation !== undefined) context.options.session.remember(operation.steps);
    const described =
      context.options.masker === undefined || messages === undefined
        ? undefined
        : describePortalsBeforeExecute(frames, messages);
    for (const raw of described?.frames ?? frames) toServer.push(raw);
    const hidden =
      described === undefined || described.hiddenAnswers.size === 0 ? undefined : described.hiddenAnswers;
    // One literal of one shape for every statement (absent parts undefined), not spreads of empty objects.
    context.tracker.push({
      kind: "forwarded",
      operation,
      endsWithReady,
      startedAt: performance.now(),
      rows: 0,
      tags: [],
      error: undefined,
      removedNames: removedNames.length === 0 ? undefined : removedNames,
      describeAnswers: hidden === undefined ? undefined : 0,
      hiddenAnswers: hidden,
      ceiling,
    });
  }
}
