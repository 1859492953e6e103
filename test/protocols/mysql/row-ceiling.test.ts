import { describe, expect, it } from "vitest";
import { CAPABILITY } from "../../../src/protocols/mysql/capabilities.js";
import { hiddenAnswered, statementFinished } from "../../../src/protocols/mysql/ceiling-steps.js";
import { COMMAND } from "../../../src/protocols/mysql/command-codes.js";
import { encodePacket } from "../../../src/protocols/mysql/packet-writer.js";
import {
  decodeEof,
  decodeErr,
  decodeOk,
  encodeEof,
  encodeOk,
  SERVER_STATUS,
} from "../../../src/protocols/mysql/response-packets.js";
import {
  afterRolledBack,
  type CeilingRun,
  COMMIT,
  judgeCeiling,
  opensTransaction,
  ROLLBACK,
  withStatus,
} from "../../../src/protocols/mysql/row-ceiling.js";

const ceiling = { maxRows: 8, previewedRows: 8, requestId: "req_1" };
const run = (opened: boolean): CeilingRun => ({ ceiling, opened, stage: "statement" });
const summary = (affectedRows: number, rows = 0) => ({ rows, affectedRows, status: SERVER_STATUS.IN_TRANS });

describe("MySQL row ceiling", () => {
  it("wraps only a statement that would commit on its own", () => {
    expect(opensTransaction(SERVER_STATUS.AUTOCOMMIT)).toBe(true);
    expect(opensTransaction(SERVER_STATUS.AUTOCOMMIT | SERVER_STATUS.IN_TRANS)).toBe(false);
    // autocommit=0: the statement opens the client's own transaction implicitly.
    expect(opensTransaction(0)).toBe(false);
  });

  it("commits within the ceiling and rolls back over it or on error, when Latch opened the transaction", () => {
    const within = run(true);
    expect(judgeCeiling(within, summary(8))).toBe(COMMIT);
    expect(within.refusal).toBeUndefined();
    const over = run(true);
    expect(judgeCeiling(over, summary(9))).toBe(ROLLBACK);
    expect(over.refusal?.code).toBe("row_ceiling_exceeded");
    expect(over.refusal?.message).toMatch(
      /changed 9 rows, more than its preview showed \(8, ceiling 8, request req_1\)/,
    );
    const failed = run(true);
    expect(judgeCeiling(failed, { ...summary(0), error: { code: "1205", message: "lock wait" } })).toBe(
      ROLLBACK,
    );
    expect(failed.refusal).toBeUndefined();
  });

  it("counts RETURNING rows like affected rows", () => {
    const returning = run(true);
    expect(judgeCeiling(returning, summary(0, 9))).toBe(ROLLBACK);
  });

  it("inside the client's transaction sends nothing within the ceiling and ROLLBACK over it", () => {
    expect(judgeCeiling(run(false), summary(3))).toBeUndefined();
    expect(judgeCeiling(run(false), summary(30))).toBe(ROLLBACK);
  });

  it("rewrites the status of a held OK or EOF so the client is not left in a transaction", () => {
    const ok = encodePacket(
      encodeOk({
        affectedRows: 300,
        lastInsertId: 70000,
        status: SERVER_STATUS.IN_TRANS | SERVER_STATUS.AUTOCOMMIT,
        warnings: 2,
        info: "Rows matched: 300",
      }),
      1,
    );
    const patched = withStatus(ok, SERVER_STATUS.AUTOCOMMIT, 0);
    expect(patched[3]).toBe(1);
    expect(decodeOk(patched.subarray(4))).toMatchObject({
      affectedRows: 300,
      lastInsertId: 70000,
      status: SERVER_STATUS.AUTOCOMMIT,
      warnings: 2,
      info: "Rows matched: 300",
    });
    const eof = encodePacket(encodeEof(SERVER_STATUS.IN_TRANS, 1), 7);
    expect(decodeEof(withStatus(eof, SERVER_STATUS.AUTOCOMMIT, 0).subarray(4))).toEqual({
      kind: "EOF",
      warnings: 1,
      status: SERVER_STATUS.AUTOCOMMIT,
    });
    const deprecated = encodePacket(encodeOk({ status: SERVER_STATUS.IN_TRANS }, 0xfe), 9);
    expect(
      decodeOk(withStatus(deprecated, SERVER_STATUS.AUTOCOMMIT, CAPABILITY.DEPRECATE_EOF).subarray(4)).status,
    ).toBe(SERVER_STATUS.AUTOCOMMIT);
  });

  it("after Latch rolled back the client's transaction lets only ROLLBACK through and ends the state on COMMIT", () => {
    expect(afterRolledBack(COMMAND.COM_QUERY, "ROLLBACK")).toBe("forward");
    expect(afterRolledBack(COMMAND.COM_QUERY, " rollback work; ")).toBe("forward");
    expect(afterRolledBack(COMMAND.COM_QUERY, "/* c */ COMMIT")).toBe("refuse-and-end");
    expect(afterRolledBack(COMMAND.COM_QUERY, "ROLLBACK TO SAVEPOINT a")).toBe("refuse");
    expect(afterRolledBack(COMMAND.COM_QUERY, "INSERT INTO t VALUES (1)")).toBe("refuse");
    expect(afterRolledBack(COMMAND.COM_STMT_EXECUTE, "")).toBe("refuse");
    expect(afterRolledBack(COMMAND.COM_PING, "")).toBe("pass");
    expect(afterRolledBack(COMMAND.COM_RESET_CONNECTION, "")).toBe("pass");
  });
});

describe("MySQL row ceiling steps", () => {
  const context = {
    status: SERVER_STATUS.AUTOCOMMIT,
    capabilities: 0,
    connection: "shop",
    answerSequence: 1,
  };
  const begun = (): CeilingRun => ({ ceiling, opened: true, stage: "begin" });

  it("never runs the statement when START TRANSACTION failed: the client gets an error in its place", () => {
    const run = begun();
    const step = hiddenAnswered(
      run,
      { ...summary(0), error: { code: "1792", message: "read only" } },
      context,
    );
    expect(step.kind).toBe("done");
    if (step.kind !== "done") return;
    expect(step.toClient?.[3]).toBe(1);
    expect(decodeErr(step.toClient!.subarray(4)).message).toMatch(
      /START TRANSACTION for the row ceiling failed/,
    );
    expect(step.summary.error?.code).toBe("upstream_unavailable");
  });

  it("runs, commits within the ceiling and hands the client its OK with the status after COMMIT", () => {
    const run = begun();
    expect(hiddenAnswered(run, summary(0), context)).toEqual({ kind: "run" });
    const ok = encodePacket(
      encodeOk({ affectedRows: 8, status: SERVER_STATUS.IN_TRANS | SERVER_STATUS.AUTOCOMMIT }),
      1,
    );
    expect(statementFinished(run, summary(8), ok, context)).toEqual({ kind: "send", toServer: COMMIT });
    const step = hiddenAnswered(run, { rows: 0, affectedRows: 0, status: SERVER_STATUS.AUTOCOMMIT }, context);
    if (step.kind !== "done") throw new Error("not done");
    expect(decodeOk(step.toClient!.subarray(4))).toMatchObject({
      affectedRows: 8,
      status: SERVER_STATUS.AUTOCOMMIT,
    });
    expect(step.summary.error).toBeUndefined();
  });

  it("answers a failed COMMIT with an error instead of the statement's success", () => {
    const run = begun();
    hiddenAnswered(run, summary(0), context);
    statementFinished(
      run,
      summary(2),
      encodePacket(encodeOk({ affectedRows: 2, status: SERVER_STATUS.IN_TRANS }), 1),
      context,
    );
    const step = hiddenAnswered(
      run,
      { ...summary(0), error: { code: "1180", message: "commit failed" } },
      context,
    );
    if (step.kind !== "done") throw new Error("not done");
    expect(decodeErr(step.toClient!.subarray(4)).message).toMatch(
      /COMMIT after the statement failed: commit failed/,
    );
  });

  it("over the ceiling inside the client's transaction rolls it back and says the session must ROLLBACK", () => {
    const run: CeilingRun = { ceiling, opened: false, stage: "statement" };
    const ok = encodePacket(encodeOk({ affectedRows: 9, status: SERVER_STATUS.IN_TRANS }), 1);
    expect(statementFinished(run, summary(9), ok, context)).toEqual({ kind: "send", toServer: ROLLBACK });
    const step = hiddenAnswered(run, { rows: 0, affectedRows: 0, status: SERVER_STATUS.AUTOCOMMIT }, context);
    if (step.kind !== "done") throw new Error("not done");
    expect(step.rolledBack).toMatch(/ceiling 8/);
    expect(step.summary.error?.code).toBe("row_ceiling_exceeded");
  });
});
