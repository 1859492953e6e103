/**
 * One client command, routed by its command byte: refused outright, forwarded as is, or handed to the handler
 * of its kind (query, prepared statements, COM_INIT_DB). While Latch has rolled back the client's transaction
 * (row ceiling), only the commands that end it get through.
 */
import { LatchError } from "../../errors.js";
import type { MysqlClassifiedStatement } from "../../sql/mysql/create-classifier.js";
import { admitAndForward } from "./command-admission.js";
import { COMMAND, commandName, handlingOf } from "./command-codes.js";
import type { MysqlMessage } from "./packet-reader.js";
import { encodePacket } from "./packet-writer.js";
import { MysqlPreparedStatements } from "./prepared-commands.js";
import { runQuery } from "./query-command.js";
import { afterRolledBack } from "./row-ceiling.js";
import type { MysqlSessionContext } from "./session-context.js";
import { useStep } from "./session-steps.js";

export class MysqlCommandDispatch {
  /** SQL-level PREPARE names -> the statement each prepares. */
  private readonly prepared = new Map<string, MysqlClassifiedStatement>();
  private readonly statements: MysqlPreparedStatements;

  constructor(private readonly context: MysqlSessionContext) {
    this.statements = new MysqlPreparedStatements(context);
  }

  handle(message: MysqlMessage): void {
    const context = this.context;
    if (message.sequenceId !== 0)
      throw new LatchError("protocol_violation", {
        reason: `a command with sequence id ${message.sequenceId}, expected 0`,
      });
    const code = message.payload[0];
    if (code === undefined) throw new LatchError("protocol_violation", { reason: "an empty command packet" });
    const handling = handlingOf(code);
    if (code === COMMAND.COM_QUIT) {
      context.end("client quit");
      return;
    }
    if (context.state.rolledBack !== undefined && this.afterRollback(message, code)) return;
    if (code === COMMAND.COM_STMT_CLOSE) {
      this.statements.close(message);
      return;
    }
    if (code === COMMAND.COM_STMT_PREPARE) {
      this.statements.prepare(message, message.payload.toString("utf8", 1));
      return;
    }
    if (code === COMMAND.COM_STMT_EXECUTE) {
      this.statements.execute(message);
      return;
    }
    if (code === COMMAND.COM_STMT_RESET) {
      context.forward(message, undefined);
      return;
    }
    if (typeof handling === "object") {
      const error = new LatchError("feature_refused", { feature: commandName(code), why: handling.refused });
      context.refuse(message, error, `${commandName(code)}`);
      return;
    }
    if (code === COMMAND.COM_PING) {
      context.forward(message, undefined);
      return;
    }
    if (code === COMMAND.COM_CHANGE_USER) {
      const error = new LatchError("feature_refused", {
        feature: "COM_CHANGE_USER",
        why: "the gateway logs in upstream itself; reconnect with a new token instead",
      });
      context.refuse(message, error, "COM_CHANGE_USER");
      return;
    }
    if (code === COMMAND.COM_RESET_CONNECTION) {
      context.forward(message, undefined, () => {
        context.state.rolledBack = undefined;
        this.prepared.clear();
        this.statements.clear();
        context.state.database = context.options.database;
      });
      return;
    }
    if (code === COMMAND.COM_INIT_DB) {
      this.initDb(message);
      return;
    }
    runQuery(context, this.prepared, message, message.payload.toString("utf8", 1));
  }

  /** While the client's transaction is rolled back (row ceiling): true when the command was answered here. */
  private afterRollback(message: MysqlMessage, code: number): boolean {
    const context = this.context;
    const text = code === COMMAND.COM_QUERY ? message.payload.toString("utf8", 1) : "";
    const allowed = afterRolledBack(code, text);
    if (allowed === "pass") return false;
    if (allowed === "forward") {
      // Judged and recorded as any ROLLBACK; the state ends once the server answered it.
      runQuery(context, this.prepared, message, text, () => {
        context.state.rolledBack = undefined;
      });
      return true;
    }
    const error = new LatchError("transaction_rolled_back", { reason: context.state.rolledBack ?? "" });
    if (allowed === "refuse-and-end") context.state.rolledBack = undefined;
    context.refuse(message, error, text || commandName(code));
    return true;
  }

  private initDb(message: MysqlMessage): void {
    const { options, state } = this.context;
    const requested = message.payload.toString("utf8", 1);
    // The connection name is the database the client connected to: it means the upstream database.
    const name = requested === options.session.connection ? options.database : requested;
    const raw = encodePacket(
      Buffer.concat([Buffer.from([COMMAND.COM_INIT_DB]), Buffer.from(name, "utf8")]),
      0,
    );
    admitAndForward(this.context, { ...message, raw }, [useStep(name, options.database)], () => {
      state.database = name;
    });
  }
}
