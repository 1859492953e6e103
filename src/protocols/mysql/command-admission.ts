/**
 * A classified command on its way upstream: built into an Operation, admitted by the pipeline (authorize,
 * approve with an optional preview, audit), then forwarded, held to the admission's row ceiling, or answered
 * with the refusal.
 */
import { randomUUID } from "node:crypto";
import type { Operation, OperationStep } from "../../operation/operation.js";
import type { RowCeiling } from "../../operation/statement-preview.js";
import type { Admission, AdmitOptions, OperationContext } from "../../pipeline/pipeline-types.js";
import type { SessionHandle } from "../../session/session-handle.js";
import type { MysqlMessage } from "./packet-reader.js";
import { ResponseTracker } from "./response-tracker.js";
import { type CeilingRun, opensTransaction, START_TRANSACTION } from "./row-ceiling.js";
import type { BoundParameters, MysqlSessionContext } from "./session-context.js";

/** Where the session's operations come from: the same for every statement of a session, built once. */
const contexts = new WeakMap<SessionHandle, OperationContext>();

function operationContext(session: SessionHandle): OperationContext {
  let context = contexts.get(session);
  if (context === undefined) {
    context = { clientAddress: session.clientAddress, connectionLabels: session.connectionLabels };
    contexts.set(session, context);
  }
  return context;
}

/** The admit options of a session while its database stays the same (the preview runs against it). */
const admitOptions = new WeakMap<MysqlSessionContext, { database: string; options: AdmitOptions }>();

function admitOptionsOf(context: MysqlSessionContext): AdmitOptions {
  const database = context.state.database;
  const cached = admitOptions.get(context);
  if (cached?.database === database) return cached.options;
  const previewer = context.options.preview;
  const options: AdmitOptions = {
    signal: context.options.session.signal,
    preview: previewer && ((previewed: Operation) => previewer(previewed, database)),
  };
  admitOptions.set(context, { database, options });
  return options;
}

export function admitAndForward(
  context: MysqlSessionContext,
  message: MysqlMessage,
  steps: readonly OperationStep[],
  onSuccess?: () => void,
  mode = "text",
  bound?: BoundParameters,
): void {
  const { options, state } = context;
  const session = options.session;
  if (steps.length === 0) {
    context.forward(message, undefined, onSuccess);
    return;
  }
  const operation: Operation =
    bound === undefined || bound.previews.length === 0
      ? {
          id: randomUUID(),
          sessionId: session.id,
          protocol: "mysql",
          connection: session.connection,
          identity: session.identity,
          mode,
          steps,
          receivedAt: Date.now(),
        }
      : {
          id: randomUUID(),
          sessionId: session.id,
          protocol: "mysql",
          connection: session.connection,
          identity: session.identity,
          mode,
          steps,
          parameters: [bound.previews],
          // Read only by an approval's binding: digested then (bound-values.ts). A getter in the literal, as
          // on PostgreSQL (batch-admission.ts): a spread would read it, defineProperty slows the object.
          get parameterDigests() {
            return [bound.digests];
          },
          receivedAt: Date.now(),
        };
  const pipeline = options.pipeline;
  // Decided and recorded within this call (one statement at a time, a synchronous journal): forwarded in this
  // turn, as PostgreSQL does. Otherwise later client bytes wait in the reader until the admission settles.
  const decided =
    pipeline.admitNow === undefined
      ? pipeline.admit(operation, operationContext(session), admitOptionsOf(context))
      : pipeline.admitNow(operation, operationContext(session), admitOptionsOf(context));
  if (!(decided instanceof Promise)) {
    settle(context, message, operation, decided, onSuccess);
    return;
  }
  state.admitting = true;
  void decided.then((admission) => {
    state.admitting = false;
    if (state.closed) return;
    settle(context, message, operation, admission, onSuccess);
    context.resume();
  });
}

/** An admitted command goes upstream (held to its row ceiling, if any); a refused one is answered here. */
function settle(
  context: MysqlSessionContext,
  message: MysqlMessage,
  operation: Operation,
  admission: Admission,
  onSuccess: (() => void) | undefined,
): void {
  if (!admission.allowed) {
    context.answer(message, admission.error);
    return;
  }
  const session = context.options.session;
  if (admission.grantExpiresAt !== undefined) session.usedGrant(admission.grantExpiresAt);
  session.remember(operation.steps);
  if (admission.rowCeiling !== undefined)
    forwardCeiling(context, message, operation, admission.rowCeiling, onSuccess);
  else context.forward(message, operation, onSuccess);
}

/** Runs the statement held to its row ceiling (row-ceiling.ts): BEGIN first when the client has none open. */
function forwardCeiling(
  context: MysqlSessionContext,
  message: MysqlMessage,
  operation: Operation,
  ceiling: RowCeiling,
  onSuccess?: () => void,
): void {
  const capabilities = context.options.capabilities;
  const opened = opensTransaction(context.state.status);
  const run = { ceiling, opened, stage: "statement" as CeilingRun["stage"], message };
  if (!opened) {
    context.forward(message, operation, onSuccess, run);
    return;
  }
  run.stage = "begin";
  context.state.running = {
    operation,
    tracker: new ResponseTracker(capabilities),
    startedAt: performance.now(),
    onSuccess,
    ceiling: { ...run, hidden: new ResponseTracker(capabilities) },
  };
  context.toServer(START_TRANSACTION);
}
