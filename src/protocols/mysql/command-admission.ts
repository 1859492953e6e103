/**
 * A classified command on its way upstream: built into an Operation, admitted by the pipeline (authorize,
 * approve with an optional preview, audit), then forwarded, held to the admission's row ceiling, or answered
 * with the refusal.
 */
import { randomUUID } from "node:crypto";
import type { Operation, OperationStep } from "../../operation/operation.js";
import type { RowCeiling } from "../../operation/statement-preview.js";
import type { OperationContext } from "../../pipeline/pipeline-types.js";
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
  const operation: Operation = {
    id: randomUUID(),
    sessionId: session.id,
    protocol: "mysql",
    connection: session.connection,
    identity: session.identity,
    mode,
    steps,
    ...(bound !== undefined && bound.previews.length > 0
      ? { parameters: [bound.previews], parameterDigests: [bound.digests] }
      : {}),
    receivedAt: Date.now(),
  };
  state.admitting = true;
  const previewer = options.preview;
  const database = state.database;
  void options.pipeline
    .admit(operation, operationContext(session), {
      signal: session.signal,
      preview: previewer && ((previewed: Operation) => previewer(previewed, database)),
    })
    .then((admission) => {
      state.admitting = false;
      if (state.closed) return;
      if (admission.allowed) {
        if (admission.grantExpiresAt !== undefined) session.usedGrant(admission.grantExpiresAt);
        session.remember(operation.steps);
        if (admission.rowCeiling !== undefined)
          forwardCeiling(context, message, operation, admission.rowCeiling, onSuccess);
        else context.forward(message, operation, onSuccess);
      } else {
        context.answer(message, admission.error);
      }
      context.resume();
    });
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
