/**
 * One authenticated MySQL client relayed to one upstream connection. Commands run one at a time, as the
 * protocol has them: a command is classified, admitted by the pipeline (authorize, approve, audit) and
 * forwarded as received; while it runs, later client bytes wait in the reader. A refusal is an ERR packet with
 * the command's next sequence id, and the session stays usable.
 */
import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { LatchError } from "../../errors.js";
import type { Operation, OperationStep } from "../../operation/operation.js";
import type { RowCeiling } from "../../operation/statement-preview.js";
import type { Admitter } from "../../pipeline/operation-pipeline.js";
import type { SessionHandle } from "../../session/session-handle.js";
import type { MysqlClassifiedStatement, MysqlClassifier } from "../../sql/mysql/create-classifier.js";
import { PreparedParameters } from "./bound-values.js";
import { type CeilingContext, type CeilingStep, hiddenAnswered, statementFinished } from "./ceiling-steps.js";
import { COMMAND, commandName, handlingOf } from "./command-codes.js";
import { asLatchError, errorPacket } from "./errors.js";
import type { MysqlMessage, PacketReader } from "./packet-reader.js";
import { encodePacket } from "./packet-writer.js";
import { SERVER_STATUS } from "./response-packets.js";
import { type ResponseSummary, ResponseTracker } from "./response-tracker.js";
import { type MysqlResultMasker, readsDiagnostics } from "./result-masker.js";
import { afterRolledBack, type CeilingRun, opensTransaction, START_TRANSACTION } from "./row-ceiling.js";
import type { MysqlSessionPreviewer } from "./session-preview.js";
import {
  answeredError,
  classificationError,
  deliveredRows,
  refusedOperation,
  singlePlainStatement,
  useStep,
} from "./session-steps.js";

export interface MysqlSessionOptions {
  readonly session: SessionHandle;
  readonly classifier: MysqlClassifier;
  readonly pipeline: Admitter;
  readonly log: Logger;
  /** Capabilities both sides agreed on (result set layout). */
  readonly capabilities: number;
  /** The connection's upstream database: where unqualified names resolve until a USE changes it. */
  readonly database: string;
  /** The connection's masking, when it has profiles: statement checks, rows, errors, recorded parameters. */
  readonly masker?: MysqlResultMasker;
  /** Previews of held writes (docs/approvals.md); the pipeline asks only when a @preview policy covers one. */
  readonly preview?: MysqlSessionPreviewer;
  /** The server status of the upstream login (autocommit, in transaction). */
  readonly initialStatus?: number;
  readonly onClose: (reason: string) => void;
}

interface Running {
  readonly operation: Operation | undefined;
  readonly tracker: ResponseTracker;
  readonly startedAt: number;
  /** Applied once the server answered without an error. */
  readonly onSuccess?: () => void;
  /** COM_STMT_PREPARE: told the id the server gave the statement. */
  readonly onPrepared?: (statementId: number, parameterCount: number) => void;
  /** Held to a row ceiling (row-ceiling.ts); `message` is the client's command, sent once the BEGIN is done. */
  readonly ceiling?: CeilingRun & { readonly message: MysqlMessage; hidden?: ResponseTracker };
}

export class MysqlSession {
  private running: Running | undefined;
  private admitting = false;
  private closed = false;
  private database: string;
  private readonly prepared = new Map<string, MysqlClassifiedStatement>();
  /** Protocol-level prepared statements by server statement id. */
  private readonly statements = new Map<number, MysqlClassifiedStatement>();
  private draining: { error: LatchError; reason: string } | undefined;
  private readonly parameters: PreparedParameters;
  /** The server status of the last complete answer: autocommit and whether a transaction is open. */
  private status: number;
  /** Set when Latch rolled back the client's transaction (row ceiling): only ROLLBACK/COMMIT end it. */
  private rolledBack: string | undefined;

  constructor(
    private readonly client: Duplex,
    private readonly clientPackets: PacketReader,
    private readonly server: Duplex,
    private readonly serverPackets: PacketReader,
    private readonly options: MysqlSessionOptions,
  ) {
    this.database = options.database;
    this.status = options.initialStatus ?? SERVER_STATUS.AUTOCOMMIT;
    const masker = options.masker;
    this.parameters = new PreparedParameters(masker && ((text) => masker.scrubText(text)));
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
    if (this.closed) return;
    this.end(reason, error);
  }

  drain(error: LatchError, reason = error.message): void {
    this.draining = { error, reason };
    this.endIfDrained();
  }

  private endIfDrained(): void {
    if (this.draining !== undefined && this.running === undefined && !this.admitting)
      this.terminate(this.draining.error, this.draining.reason);
  }

  private end(reason: string, clientError?: LatchError): void {
    if (this.closed) return;
    this.closed = true;
    if (clientError !== undefined && !this.client.destroyed)
      this.client.write(errorPacket(clientError, this.running === undefined ? 0 : 1));
    const running = this.running;
    if (running?.operation !== undefined)
      this.options.pipeline.complete(running.operation, {
        durationMs: performance.now() - running.startedAt,
        rows: 0,
        commandTags: [],
        error: { code: "08S01", message: "session ended before the result was complete" },
      });
    this.running = undefined;
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
    if (this.closed) return;
    try {
      if (chunk !== undefined) {
        this.options.session.touch();
        this.clientPackets.push(chunk);
      }
      while (!this.closed && this.running === undefined && !this.admitting) {
        const message = this.clientPackets.next();
        if (message === undefined) break;
        this.onCommand({ ...message, payload: Buffer.from(message.payload), raw: Buffer.from(message.raw) });
      }
    } catch (error) {
      this.protocolFailure(error);
      return;
    }
    this.endIfDrained();
  }

  private onCommand(message: MysqlMessage): void {
    if (message.sequenceId !== 0)
      throw new LatchError("protocol_violation", {
        reason: `a command with sequence id ${message.sequenceId}, expected 0`,
      });
    const code = message.payload[0];
    if (code === undefined) throw new LatchError("protocol_violation", { reason: "an empty command packet" });
    const handling = handlingOf(code);
    if (code === COMMAND.COM_QUIT) {
      this.end("client quit");
      return;
    }
    if (this.rolledBack !== undefined && this.afterRollback(message, code)) return;
    if (code === COMMAND.COM_STMT_CLOSE) {
      // No answer in the protocol: forwarded, and the statement forgotten.
      if (message.payload.length >= 5) {
        this.statements.delete(message.payload.readUInt32LE(1));
        this.parameters.closed(message.payload.readUInt32LE(1));
      }
      this.server.write(message.raw);
      return;
    }
    if (code === COMMAND.COM_STMT_PREPARE) {
      this.prepareStatement(message, message.payload.subarray(1).toString("utf8"));
      return;
    }
    if (code === COMMAND.COM_STMT_EXECUTE) {
      this.executeStatement(message);
      return;
    }
    if (code === COMMAND.COM_STMT_RESET) {
      this.forward(message, undefined);
      return;
    }
    if (typeof handling === "object") {
      const error = new LatchError("feature_refused", { feature: commandName(code), why: handling.refused });
      this.refuse(message, error, `${commandName(code)}`);
      return;
    }
    if (code === COMMAND.COM_PING) {
      this.forward(message, undefined);
      return;
    }
    if (code === COMMAND.COM_CHANGE_USER) {
      const error = new LatchError("feature_refused", {
        feature: "COM_CHANGE_USER",
        why: "the gateway logs in upstream itself; reconnect with a new token instead",
      });
      this.refuse(message, error, "COM_CHANGE_USER");
      return;
    }
    if (code === COMMAND.COM_RESET_CONNECTION) {
      this.forward(message, undefined, () => {
        this.rolledBack = undefined;
        this.prepared.clear();
        this.statements.clear();
        this.parameters.clear();
        this.database = this.options.database;
      });
      return;
    }
    if (code === COMMAND.COM_INIT_DB) {
      this.initDb(message);
      return;
    }
    this.query(message, message.payload.subarray(1).toString("utf8"));
    return;
  }

  /** While the client's transaction is rolled back (row ceiling): true when the command was answered here. */
  private afterRollback(message: MysqlMessage, code: number): boolean {
    const text = code === COMMAND.COM_QUERY ? message.payload.subarray(1).toString("utf8") : "";
    const allowed = afterRolledBack(code, text);
    if (allowed === "pass") return false;
    if (allowed === "forward") {
      // Judged and recorded as any ROLLBACK; the state ends once the server answered it.
      this.query(message, text, () => {
        this.rolledBack = undefined;
      });
      return true;
    }
    const error = new LatchError("transaction_rolled_back", { reason: this.rolledBack ?? "" });
    if (allowed === "refuse-and-end") this.rolledBack = undefined;
    this.refuse(message, error, text || commandName(code));
    return true;
  }

  /**
   * COM_STMT_PREPARE: the text is classified now (refused if it fails or is not one plain statement); the
   * server's statement id then maps to that classification, which every COM_STMT_EXECUTE is judged by.
   */
  private prepareStatement(message: MysqlMessage, text: string): void {
    const result = this.options.classifier.classify(text, this.database);
    if (!result.ok) {
      this.refuse(message, classificationError(result), text);
      return;
    }
    const statement = singlePlainStatement(result.statements);
    if (statement === undefined) {
      const what = "a prepared statement that is not exactly one plain statement";
      this.refuse(message, new LatchError("statement_unsupported", { what }), text);
      return;
    }
    if (this.maskingRefused(message, text)) return;
    this.running = {
      operation: undefined,
      tracker: new ResponseTracker(this.options.capabilities, "prepare"),
      startedAt: performance.now(),
      onPrepared: (id, parameterCount) => {
        this.statements.set(id, statement);
        this.parameters.prepared(id, parameterCount);
      },
    };
    this.server.write(message.raw);
  }

  private executeStatement(message: MysqlMessage): void {
    const id = message.payload.length >= 10 ? message.payload.readUInt32LE(1) : undefined;
    const statement = id === undefined ? undefined : this.statements.get(id);
    if (statement === undefined) {
      this.refuse(
        message,
        new LatchError("statement_denied", {
          reason: "COM_STMT_EXECUTE of a statement not prepared through Latch",
        }),
        "COM_STMT_EXECUTE",
      );
      return;
    }
    if (message.payload[5] !== 0) {
      this.refuse(
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
      this.refuse(
        message,
        new LatchError("statement_unsupported", { what: `COM_STMT_EXECUTE: ${reason}` }),
        statement.text,
      );
      return;
    }
    this.admitAndForward(message, [statement.step], undefined, "prepared", bound);
  }

  private initDb(message: MysqlMessage): void {
    const requested = message.payload.subarray(1).toString("utf8");
    // The connection name is the database the client connected to: it means the upstream database.
    const name = requested === this.options.session.connection ? this.options.database : requested;
    const raw = encodePacket(
      Buffer.concat([Buffer.from([COMMAND.COM_INIT_DB]), Buffer.from(name, "utf8")]),
      0,
    );
    this.admitAndForward({ ...message, raw }, [useStep(name, this.options.database)], () => {
      this.database = name;
    });
  }

  private query(message: MysqlMessage, text: string, afterSuccess?: () => void): void {
    const result = this.options.classifier.classify(text, this.database);
    if (!result.ok) {
      this.refuse(message, classificationError(result), text);
      return;
    }
    if (this.maskingRefused(message, text)) return;
    const steps: OperationStep[] = [];
    let useDatabase: string | undefined;
    const preparing = new Map<string, MysqlClassifiedStatement | undefined>();
    for (const [index, statement] of result.statements.entries()) {
      if (statement.useDatabase !== undefined) {
        // Later statements of the same text would resolve names against a database the gateway cannot confirm.
        if (index !== result.statements.length - 1) {
          this.refuse(
            message,
            new LatchError("statement_unsupported", { what: "USE followed by more statements in one query" }),
            text,
          );
          return;
        }
        useDatabase = statement.useDatabase;
        steps.push(useStep(useDatabase, this.options.database, statement.text));
        continue;
      }
      if (statement.executes !== undefined) {
        const inner = preparing.has(statement.executes)
          ? preparing.get(statement.executes)
          : this.prepared.get(statement.executes);
        if (inner === undefined) {
          this.refuse(
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
        preparing.set(statement.prepares.name, statement.prepares.inner);
        steps.push(statement.prepares.inner.step);
        continue;
      }
      if (statement.deallocates !== undefined) preparing.set(statement.deallocates, undefined);
      steps.push(statement.step);
    }
    this.admitAndForward(message, steps, () => {
      for (const [name, inner] of preparing) {
        if (inner === undefined) this.prepared.delete(name);
        else this.prepared.set(name, inner);
      }
      if (useDatabase !== undefined) this.database = useDatabase;
      afterSuccess?.();
    });
  }

  private admitAndForward(
    message: MysqlMessage,
    steps: readonly OperationStep[],
    onSuccess?: () => void,
    mode = "text",
    bound?: { readonly previews: (string | null)[]; readonly digests: (string | null)[] },
  ): void {
    const session = this.options.session;
    if (steps.length === 0) {
      this.forward(message, undefined, onSuccess);
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
    this.admitting = true;
    const previewer = this.options.preview;
    const database = this.database;
    void this.options.pipeline
      .admit(
        operation,
        { clientAddress: session.clientAddress, connectionLabels: session.connectionLabels },
        {
          signal: session.signal,
          preview: previewer && ((previewed: Operation) => previewer(previewed, database)),
        },
      )
      .then((admission) => {
        this.admitting = false;
        if (this.closed) return;
        if (admission.allowed) {
          if (admission.grantExpiresAt !== undefined) session.usedGrant(admission.grantExpiresAt);
          session.remember(operation.steps);
          if (admission.rowCeiling !== undefined)
            this.forwardCeiling(message, operation, admission.rowCeiling, onSuccess);
          else this.forward(message, operation, onSuccess);
        } else {
          this.answer(message, admission.error);
        }
        this.onClientData(undefined);
      });
  }

  /** Runs the statement held to its row ceiling (row-ceiling.ts): BEGIN first when the client has none open. */
  private forwardCeiling(
    message: MysqlMessage,
    operation: Operation,
    ceiling: RowCeiling,
    onSuccess?: () => void,
  ): void {
    const opened = opensTransaction(this.status);
    const run = { ceiling, opened, stage: "statement" as CeilingRun["stage"], message };
    if (!opened) {
      this.forward(message, operation, onSuccess, run);
      return;
    }
    run.stage = "begin";
    this.running = {
      operation,
      tracker: new ResponseTracker(this.options.capabilities),
      startedAt: performance.now(),
      onSuccess,
      ceiling: { ...run, hidden: new ResponseTracker(this.options.capabilities) },
    };
    this.server.write(START_TRANSACTION);
  }

  private forward(
    message: MysqlMessage,
    operation: Operation | undefined,
    onSuccess?: () => void,
    ceiling?: Running["ceiling"],
  ): void {
    this.running = {
      operation,
      tracker: new ResponseTracker(this.options.capabilities),
      startedAt: performance.now(),
      onSuccess,
      ...(ceiling === undefined ? {} : { ceiling }),
    };
    const code = message.payload[0];
    this.options.masker?.begin({
      binary: code === COMMAND.COM_STMT_EXECUTE,
      echoesDiagnostics:
        code === COMMAND.COM_QUERY && readsDiagnostics(message.payload.toString("latin1", 1)),
    });
    this.server.write(message.raw);
  }

  /** A refusal before policy (parse failure, refused command): recorded, then answered. */
  private refuse(message: MysqlMessage, error: LatchError, text: string): void {
    this.options.pipeline.recordRefusal(refusedOperation(this.options.session, text), error);
    this.answer(message, error);
  }

  /** The masking rules that refuse a text outright (masked columns in expressions, or probed with strict). */
  private maskingRefused(message: MysqlMessage, text: string): boolean {
    const check = this.options.masker?.checkStatement(text, this.database);
    if (check === undefined || check.ok) return false;
    this.refuse(message, new LatchError("statement_denied", { reason: check.reason }), text);
    return true;
  }

  private answer(message: MysqlMessage, error: LatchError): void {
    this.client.write(errorPacket(error, (message.lastSequenceId + 1) & 0xff));
  }

  // ---- server -> client -------------------------------------------------------------------------------------

  private onServerData(chunk: Buffer | undefined): void {
    if (this.closed) return;
    const out: Buffer[] = [];
    try {
      if (chunk !== undefined) {
        this.options.session.touch();
        this.serverPackets.push(chunk);
      }
      for (
        let message = this.serverPackets.next();
        message !== undefined;
        message = this.serverPackets.next()
      ) {
        const running = this.running;
        if (running === undefined) {
          // Unsolicited: the server is ending the connection (an ERR on KILL or shutdown) - pass it on.
          out.push(Buffer.from(message.raw));
          continue;
        }
        const ceiling = running.ceiling;
        if (ceiling?.hidden !== undefined) {
          // Latch's own START TRANSACTION / COMMIT / ROLLBACK: answered to Latch, never to the client.
          const answer = ceiling.hidden.push(message.payload);
          if (answer === undefined) continue;
          ceiling.hidden = undefined;
          this.ceilingStep(running, hiddenAnswered(ceiling, answer, this.ceilingContext(ceiling)), out);
          continue;
        }
        const done = running.tracker.push(message.payload);
        const masker = running.tracker.kind === "prepare" ? undefined : this.options.masker;
        const relayed = masker === undefined ? message.raw : masker.relay(message, running.tracker.kind);
        if (done !== undefined && ceiling !== undefined) {
          this.ceilingStep(
            running,
            statementFinished(ceiling, done, relayed, this.ceilingContext(ceiling)),
            out,
          );
          continue;
        }
        if (relayed !== undefined && relayed.length > 0) out.push(Buffer.from(relayed));
        if (done !== undefined) this.completed(running, done);
      }
    } catch (error) {
      this.options.log.warn({ err: error }, "upstream protocol failure");
      if (out.length > 0) this.client.write(Buffer.concat(out));
      this.end(
        "upstream protocol failure",
        new LatchError("upstream_protocol", {
          name: this.options.session.connection,
          reason: (error as Error).message,
        }),
      );
      return;
    }
    if (out.length > 0) this.client.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    if (this.running === undefined) this.onClientData(undefined);
  }

  /** Carries out one step of a ceiling run (ceiling-steps.ts decides). */
  private ceilingStep(running: Running, step: CeilingStep, out: Buffer[]): void {
    const ceiling = running.ceiling!;
    if (step.kind === "send") {
      ceiling.hidden = new ResponseTracker(this.options.capabilities);
      this.server.write(step.toServer);
    } else if (step.kind === "run")
      this.forward(ceiling.message, running.operation, running.onSuccess, ceiling);
    else {
      this.status = step.status;
      if (step.rolledBack !== undefined) this.rolledBack = step.rolledBack;
      if (step.toClient !== undefined) out.push(step.toClient);
      this.completed(running, step.summary);
    }
  }

  private ceilingContext(ceiling: NonNullable<Running["ceiling"]>): CeilingContext {
    return {
      status: this.status,
      capabilities: this.options.capabilities,
      connection: this.options.session.connection,
      answerSequence: (ceiling.message.lastSequenceId + 1) & 0xff,
    };
  }

  private completed(running: Running, summary: ResponseSummary): void {
    this.running = undefined;
    if (summary.error === undefined) this.status = summary.status;
    if (summary.error === undefined) running.onSuccess?.();
    if (summary.error === undefined && summary.statementId !== undefined)
      running.onPrepared?.(summary.statementId, summary.parameterCount ?? 0);
    // As the client saw it: the masker's result_withheld, or the server's error scrubbed (it may echo a value).
    const error = answeredError(summary, this.options.masker);
    const masker = this.options.masker;
    if (running.operation !== undefined && masker?.tally.touched === true) {
      this.options.pipeline.traceMask?.(running.operation, masker.tally);
      masker.tally.reset();
    }
    if (running.operation !== undefined)
      this.options.pipeline.complete(running.operation, {
        durationMs: performance.now() - running.startedAt,
        ...deliveredRows(summary, masker),
        commandTags: [],
        ...(error === undefined ? {} : { error }),
      });
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
