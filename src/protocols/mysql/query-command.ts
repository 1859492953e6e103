/**
 * COM_QUERY: the text's statements become the operation's steps. USE switches the database once the server
 * accepted it; SQL-level PREPARE / EXECUTE / DEALLOCATE are judged by the statement they prepare, and the names
 * they define or drop take effect only when the whole text succeeded.
 */
import { LatchError } from "../../errors.js";
import type { OperationStep } from "../../operation/operation.js";
import type { MysqlClassifiedStatement } from "../../sql/mysql/create-classifier.js";
import { admitAndForward } from "./command-admission.js";
import type { MysqlMessage } from "./packet-reader.js";
import type { MysqlSessionContext } from "./session-context.js";
import { classificationError, useStep } from "./session-steps.js";

export function runQuery(
  context: MysqlSessionContext,
  /** SQL-level prepared statements by name, as the server has them. */
  prepared: Map<string, MysqlClassifiedStatement>,
  message: MysqlMessage,
  text: string,
  afterSuccess?: () => void,
): void {
  const { options, state } = context;
  const result = options.classifier.classify(text, state.database);
  if (!result.ok) {
    context.refuse(message, classificationError(result), text);
    return;
  }
  if (context.maskingRefused(message, text)) return;
  const steps: OperationStep[] = [];
  let useDatabase: string | undefined;
  // Names this text prepares (or drops), made only for a text that has any: most have none.
  let preparing: Map<string, MysqlClassifiedStatement | undefined> | undefined;
  const statements = result.statements;
  for (let index = 0; index < statements.length; index++) {
    const statement = statements[index]!;
    if (statement.useDatabase !== undefined) {
      // Later statements of the same text would resolve names against a database the gateway cannot confirm.
      if (index !== statements.length - 1) {
        context.refuse(
          message,
          new LatchError("statement_unsupported", { what: "USE followed by more statements in one query" }),
          text,
        );
        return;
      }
      useDatabase = statement.useDatabase;
      steps.push(useStep(useDatabase, options.database, statement.text));
      continue;
    }
    if (statement.executes !== undefined) {
      const inner = preparing?.has(statement.executes)
        ? preparing.get(statement.executes)
        : prepared.get(statement.executes);
      if (inner === undefined) {
        context.refuse(
          message,
          new LatchError("statement_denied", {
            reason: `EXECUTE of ${statement.executes}, which was not prepared through Latch`,
          }),
          text,
        );
        return;
      }
      steps.push({ ...inner.step, text: statement.text });
      continue;
    }
    if (statement.prepares !== undefined) {
      preparing ??= new Map();
      preparing.set(statement.prepares.name, statement.prepares.inner);
      steps.push(statement.prepares.inner.step);
      continue;
    }
    if (statement.deallocates !== undefined) {
      preparing ??= new Map();
      preparing.set(statement.deallocates, undefined);
    }
    steps.push(statement.step);
  }
  // Most texts change nothing in the session once they succeed (no USE, PREPARE, DEALLOCATE): no callback.
  if (preparing === undefined && useDatabase === undefined && afterSuccess === undefined) {
    admitAndForward(context, message, steps);
    return;
  }
  admitAndForward(context, message, steps, () => {
    if (preparing !== undefined)
      for (const [name, inner] of preparing) {
        if (inner === undefined) prepared.delete(name);
        else prepared.set(name, inner);
      }
    if (useDatabase !== undefined) state.database = useDatabase;
    afterSuccess?.();
  });
}
