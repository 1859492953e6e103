/**
 * The protocol-level prepared statements (COM_STMT_PREPARE / EXECUTE / CLOSE): the text is classified when it
 * is prepared, the server's statement id then maps to that classification, and every COM_STMT_EXECUTE is judged
 * by it with its bound parameters recorded.
 */
import { LatchError } from "../../errors.js";
import type { MysqlClassifiedStatement } from "../../sql/mysql/create-classifier.js";
import { PreparedParameters } from "./bound-values.js";
import { admitAndForward } from "./command-admission.js";
import type { MysqlMessage } from "./packet-reader.js";
import { ResponseTracker } from "./response-tracker.js";
import type { MysqlSessionContext } from "./session-context.js";
import { classificationError, singlePlainStatement } from "./session-steps.js";

export class MysqlPreparedStatements {
  /** By server statement id. */
  private readonly statements = new Map<number, MysqlClassifiedStatement>();
  private readonly parameters: PreparedParameters;

  constructor(private readonly context: MysqlSessionContext) {
    const masker = context.options.masker;
    this.parameters = new PreparedParameters(masker && ((text) => masker.scrubText(text)));
  }

  /** COM_STMT_PREPARE: refused if the text fails to classify or is not exactly one plain statement. */
  prepare(message: MysqlMessage, text: string): void {
    const context = this.context;
    const result = context.options.classifier.classify(text, context.state.database);
    if (!result.ok) {
      context.refuse(message, classificationError(result), text);
      return;
    }
    const statement = singlePlainStatement(result.statements);
    if (statement === undefined) {
      const what = "a prepared statement that is not exactly one plain statement";
      context.refuse(message, new LatchError("statement_unsupported", { what }), text);
      return;
    }
    if (context.maskingRefused(message, text)) return;
    context.state.running = {
      operation: undefined,
      tracker: new ResponseTracker(context.options.capabilities, "prepare"),
      startedAt: performance.now(),
      onPrepared: (id, parameterCount) => {
        this.statements.set(id, statement);
        this.parameters.prepared(id, parameterCount);
      },
    };
    context.toServer(message.raw);
  }

  execute(message: MysqlMessage): void {
    const context = this.context;
    const id = message.payload.length >= 10 ? message.payload.readUInt32LE(1) : undefined;
    const statement = id === undefined ? undefined : this.statements.get(id);
    if (statement === undefined) {
      context.refuse(
        message,
        new LatchError("statement_denied", {
          reason: "COM_STMT_EXECUTE of a statement not prepared through Latch",
        }),
        "COM_STMT_EXECUTE",
      );
      return;
    }
    if (message.payload[5] !== 0) {
      context.refuse(
        message,
        new LatchError("feature_refused", {
          feature: "server-side cursors",
          why: "rows fetched later escape the result record",
        }),
        statement.text,
      );
      return;
    }
    let bound: ReturnType<PreparedParameters["read"]>;
    try {
      bound = this.parameters.read(message.payload);
    } catch (error) {
      const reason = (error as Error).message;
      context.refuse(
        message,
        new LatchError("statement_unsupported", { what: `COM_STMT_EXECUTE: ${reason}` }),
        statement.text,
      );
      return;
    }
    admitAndForward(context, message, [statement.step], undefined, "prepared", bound);
  }

  /** COM_STMT_CLOSE has no answer in the protocol: forwarded, and the statement forgotten. */
  close(message: MysqlMessage): void {
    if (message.payload.length >= 5) {
      this.statements.delete(message.payload.readUInt32LE(1));
      this.parameters.closed(message.payload.readUInt32LE(1));
    }
    this.context.toServer(message.raw);
  }

  /** COM_RESET_CONNECTION: the server forgets every statement. */
  clear(): void {
    this.statements.clear();
    this.parameters.clear();
  }
}
