import { beforeAll, describe, expect, it } from "vitest";
import { LatchError } from "../../../src/errors.js";
import type { OperationStep } from "../../../src/operation/operation.js";
import type { Admission } from "../../../src/pipeline/pipeline-types.js";
import { decodeBackend } from "../../../src/protocols/postgres/decode-backend.js";
import {
  encodeCommandComplete,
  encodeDataRow,
  encodeErrorResponse,
  encodeReadyForQuery,
  encodeRowDescription,
} from "../../../src/protocols/postgres/encode-backend.js";
import { encodeFrontend, encodeQuery, encodeSync } from "../../../src/protocols/postgres/encode-frontend.js";
import { errorFrame } from "../../../src/protocols/postgres/errors.js";
import { FrameReader } from "../../../src/protocols/postgres/frame-reader.js";
import type { TransactionStatus } from "../../../src/protocols/postgres/messages.js";
import { PgSession } from "../../../src/protocols/postgres/session.js";
import type { StatementClassifier } from "../../../src/sql/classification.js";
import { createStatementClassifier, loadSqlParser } from "../../../src/sql/postgres/create-classifier.js";
import { FakeAdmitter } from "../../support/fake-admitter.js";
import { MemorySocket, turns } from "../../support/memory-socket.js";
import { allow, deny, identity, needsApproval, silentLog } from "../../support/operation-fixtures.js";

let classifier: StatementClassifier;

beforeAll(async () => {
  await loadSqlParser();
  classifier = createStatementClassifier();
});

const allowed: Admission = { allowed: true, verdict: allow };
const denial = new LatchError("statement_denied", { reason: "writes are forbidden" });
const denied: Admission = { allowed: false, verdict: deny, error: denial };

function setup(options: { initialStatus?: TransactionStatus } = {}) {
  const client = new MemorySocket();
  const server = new MemorySocket();
  const pipeline = new FakeAdmitter();
  const ended = new AbortController();
  const handle = {
    id: "session-1",
    identity: identity(),
    connection: "analytics",
    connectionLabels: { env: "prod" },
    clientAddress: "10.0.0.9:51234",
    signal: ended.signal,
    touches: 0,
    grants: [] as number[],
    remembered: [] as OperationStep[][],
    touch() {
      handle.touches += 1;
    },
    usedGrant(expiresAt: number) {
      handle.grants.push(expiresAt);
    },
    remember(steps: readonly OperationStep[]) {
      handle.remembered.push([...steps]);
    },
  };
  const closed: string[] = [];
  const reader = () => new FrameReader({ maxFrameBytes: 1 << 20, startup: false });
  const session = new PgSession(client, reader(), server, reader(), {
    session: handle,
    classifier,
    pipeline,
    log: silentLog,
    maxBatchBytes: 1 << 20,
    visibleUser: "agent-7",
    initialStatus: options.initialStatus ?? "I",
    onClose: (reason) => closed.push(reason),
  });
  session.start();
  return { client, server, pipeline, handle, closed, session };
}

/** What a peer received, decoded: "ErrorResponse ERROR 42501", "ReadyForQuery I", "CommandComplete SELECT 1"... */
function messagesIn(bytes: Buffer): string[] {
  const reader = new FrameReader({ maxFrameBytes: 1 << 20, startup: false });
  reader.push(bytes);
  const out: string[] = [];
  for (let frame = reader.next(); frame !== undefined; frame = reader.next()) {
    const message = decodeBackend(frame);
    if (message.kind === "ErrorResponse" || message.kind === "NoticeResponse")
      out.push(`${message.kind} ${message.fields.severity} ${message.fields.code}`);
    else if (message.kind === "ReadyForQuery") out.push(`ReadyForQuery ${message.status}`);
    else if (message.kind === "CommandComplete") out.push(`CommandComplete ${message.tag}`);
    else out.push(String.fromCharCode(frame.type)); // others by their type byte: "T" RowDescription, "D" DataRow
  }
  return out;
}

const result = (tag: string, status: TransactionStatus = "I") => [
  encodeRowDescription(["n"]),
  encodeDataRow(["1"]),
  encodeCommandComplete(tag),
  encodeReadyForQuery(status),
];

describe("PgSession: simple queries", () => {
  it("forwards an allowed Query byte for byte, once admitted, and relays the answer", async () => {
    const { client, server, pipeline, handle } = setup();
    const query = encodeQuery("SELECT * FROM items");
    client.send(query);
    await turns();
    expect(pipeline.calls).toHaveLength(1);
    expect(server.written).toEqual([]); // nothing reaches the server before the admission
    const call = pipeline.calls[0]!;
    expect(call.operation).toMatchObject({
      sessionId: "session-1",
      protocol: "postgres",
      connection: "analytics",
      identity: handle.identity,
      mode: "simple",
    });
    expect(call.operation.steps.map((s) => [s.text, s.action])).toEqual([
      ["SELECT * FROM items", "sql:select"],
    ]);
    expect(call.context).toEqual({ clientAddress: "10.0.0.9:51234", connectionLabels: { env: "prod" } });
    expect(call.options?.signal).toBe(handle.signal);

    call.settle(allowed);
    await turns();
    expect(server.output()).toEqual(query);
    expect(handle.remembered).toEqual([call.operation.steps]);

    const answer = Buffer.concat(result("SELECT 1"));
    server.send(answer);
    await turns();
    expect(client.output()).toEqual(answer);
    expect(pipeline.completed).toHaveLength(1);
    expect(pipeline.completed[0]?.operation).toBe(call.operation);
    expect(pipeline.completed[0]?.result).toMatchObject({ rows: 1, commandTags: ["SELECT 1"] });
  });

  it("records a result only once the client was sent its answer (recording is not on the statement's path)", async () => {
    const { client, server, pipeline } = setup();
    const sentWhenRecorded: number[] = [];
    const complete = pipeline.complete.bind(pipeline);
    pipeline.complete = (operation, result) => {
      sentWhenRecorded.push(client.output().length);
      complete(operation, result);
    };
    client.send(encodeQuery("SELECT * FROM items"));
    await turns();
    pipeline.calls[0]!.settle(allowed);
    await turns();
    const answer = Buffer.concat(result("SELECT 1"));
    server.send(answer);
    await turns();
    expect(sentWhenRecorded).toEqual([answer.length]);
    expect(pipeline.completed[0]?.result).toMatchObject({ rows: 1, commandTags: ["SELECT 1"] });
  });

  it("forwards in the same turn, pipelined statements in order, when the pipeline decides within the call", () => {
    const { client, server, pipeline } = setup();
    const decidedNow: string[] = [];
    pipeline.admitNow = (operation) => {
      decidedNow.push(operation.steps[0]!.text);
      return operation.steps[0]!.text.startsWith("DELETE") ? denied : allowed;
    };
    const first = encodeQuery("SELECT 1");
    const second = encodeQuery("DELETE FROM items");
    const third = encodeQuery("SELECT 3");
    client.emit("data", Buffer.concat([first, second, third])); // no turn passes
    expect(decidedNow).toEqual(["SELECT 1", "DELETE FROM items", "SELECT 3"]);
    expect(pipeline.calls).toHaveLength(0);
    // One write for the turn; the denied statement never reaches the server.
    expect(server.written).toEqual([Buffer.concat([first, third])]);
    server.emit("data", Buffer.concat(result("SELECT 1")));
    expect(messagesIn(client.output())).toContain("ErrorResponse ERROR 42501");
  });

  it("answers a denied Query with ErrorResponse and ReadyForQuery, never forwards it, and stays usable", async () => {
    const { client, server, pipeline, closed } = setup();
    pipeline.answer = (op) => (op.steps[0]?.action === "sql:delete" ? denied : allowed);
    client.send(encodeQuery("DELETE FROM items"));
    await turns();
    expect(client.output()).toEqual(Buffer.concat([errorFrame(denial), encodeReadyForQuery("I")]));
    expect(server.written).toEqual([]);
    expect(closed).toEqual([]);

    client.send(encodeQuery("SELECT 1"));
    await turns();
    expect(server.output()).toEqual(encodeQuery("SELECT 1"));
  });

  it("refuses unparseable SQL before policy, records the refusal and never forwards it", async () => {
    const { client, server, pipeline } = setup();
    client.send(encodeQuery("SELEC * FROM items"));
    await turns();
    expect(pipeline.calls).toHaveLength(0);
    expect(pipeline.refusals).toHaveLength(1);
    expect(pipeline.refusals[0]?.error.code).toBe("statement_unparseable");
    expect(pipeline.refusals[0]?.operation.steps.map((s) => s.text)).toEqual(["SELEC * FROM items"]);
    expect(messagesIn(client.output())).toEqual(["ErrorResponse ERROR 42601", "ReadyForQuery I"]);
    expect(server.written).toEqual([]);
  });

  it("keeps later frames waiting, in order, while an admission is pending", async () => {
    const { client, server, pipeline } = setup();
    const first = encodeQuery("SELECT 1");
    const second = encodeQuery("SELECT 2");
    client.send(Buffer.concat([first, second]));
    await turns();
    expect(pipeline.calls).toHaveLength(1); // the second is not even examined yet
    pipeline.calls[0]!.settle(allowed);
    await turns();
    expect(server.output()).toEqual(first);
    expect(pipeline.calls).toHaveLength(2);
    expect(pipeline.calls[1]?.operation.steps[0]?.text).toBe("SELECT 2");
    pipeline.calls[1]!.settle(allowed);
    await turns();
    expect(server.output()).toEqual(Buffer.concat([first, second]));
  });

  it("answers a denial only after the results of what was forwarded before it", async () => {
    const { client, server, pipeline } = setup();
    pipeline.answer = (op) => (op.steps[0]?.text === "SELECT 1" ? allowed : denied);
    client.send(encodeQuery("SELECT 1"), encodeQuery("DELETE FROM items"));
    await turns();
    expect(server.output()).toEqual(encodeQuery("SELECT 1"));
    expect(client.written).toEqual([]); // the denial waits behind SELECT 1's answer
    server.send(...result("SELECT 1"));
    await turns();
    expect(messagesIn(client.output())).toEqual([
      "T",
      "D",
      "CommandComplete SELECT 1",
      "ReadyForQuery I",
      "ErrorResponse ERROR 42501",
      "ReadyForQuery I",
    ]);
  });

  it("puts the server's transaction into the failed state when a statement inside it is denied", async () => {
    const { client, server, pipeline } = setup({ initialStatus: "T" });
    pipeline.answer = () => denied;
    client.send(encodeQuery("DELETE FROM items"));
    await turns();
    const sent = server.output().toString("latin1");
    expect(sent).toContain("LATCH_DENIED");
    expect(sent).not.toContain("DELETE FROM items");
    expect(client.written).toEqual([]);
    server.send(
      encodeErrorResponse({
        severity: "ERROR",
        code: "42601",
        message: 'syntax error at or near "LATCH_DENIED"',
      }),
      encodeReadyForQuery("E"),
    );
    await turns();
    expect(messagesIn(client.output())).toEqual(["ErrorResponse ERROR 42501", "ReadyForQuery E"]);
  });
});

describe("PgSession: extended protocol", () => {
  const parse = encodeFrontend({
    kind: "Parse",
    name: "",
    sql: "UPDATE items SET n = $1 WHERE id = 1",
    paramTypes: [],
  });
  const bind = encodeFrontend({
    kind: "Bind",
    portal: "",
    statement: "",
    paramFormats: [],
    params: [Buffer.from("5")],
    resultFormats: [],
  });
  const execute = encodeFrontend({ kind: "Execute", portal: "", maxRows: 0 });

  it("admits a Parse/Bind/Execute/Sync batch as one operation and forwards it as received", async () => {
    const { client, server, pipeline } = setup();
    pipeline.answer = () => allowed;
    const batch = Buffer.concat([parse, bind, execute, encodeSync()]);
    client.send(batch);
    await turns();
    expect(pipeline.calls).toHaveLength(1);
    expect(pipeline.calls[0]?.operation).toMatchObject({ mode: "extended", parameters: [["5"]] });
    expect(pipeline.calls[0]?.operation.steps.map((s) => s.action)).toEqual(["sql:update"]);
    expect(server.output()).toEqual(batch);
  });

  it("forwards a batch that only parses without asking the pipeline", async () => {
    const { client, server, pipeline } = setup();
    const batch = Buffer.concat([parse, encodeSync()]);
    client.send(batch);
    await turns();
    expect(pipeline.calls).toHaveLength(0);
    expect(server.output()).toEqual(batch);
  });

  it("after a denied Flush-ended batch, discards messages until Sync and then answers ReadyForQuery", async () => {
    const { client, server, pipeline } = setup();
    pipeline.answer = () => denied;
    const flush = encodeFrontend({ kind: "Flush" });
    client.send(Buffer.concat([parse, bind, execute, flush]));
    await turns();
    expect(messagesIn(client.output())).toEqual(["ErrorResponse ERROR 42501"]);
    client.send(Buffer.concat([bind, execute, encodeSync()]));
    await turns();
    expect(messagesIn(client.output())).toEqual(["ErrorResponse ERROR 42501", "ReadyForQuery I"]);
    expect(pipeline.calls).toHaveLength(1);
    expect(server.written).toEqual([]);
  });

  it("refuses an Execute of a portal the session never bound, before policy", async () => {
    const { client, server, pipeline } = setup();
    client.send(
      Buffer.concat([encodeFrontend({ kind: "Execute", portal: "ghost", maxRows: 0 }), encodeSync()]),
    );
    await turns();
    expect(pipeline.refusals[0]?.error.message).toContain('portal "ghost"');
    expect(messagesIn(client.output())).toEqual(["ErrorResponse ERROR 42501", "ReadyForQuery I"]);
    expect(server.written).toEqual([]);
  });
});

describe("PgSession: the session around it", () => {
  it("reports traffic in both directions to the session", async () => {
    const { client, server, handle, pipeline } = setup();
    pipeline.answer = () => allowed;
    client.send(encodeQuery("SELECT 1"));
    await turns();
    expect(handle.touches).toBe(1);
    server.send(Buffer.concat(result("SELECT 1")));
    await turns();
    expect(handle.touches).toBe(2);
  });

  it("tells the session about the grant an admission used", async () => {
    const { client, handle, pipeline } = setup();
    const grantExpiresAt = Date.UTC(2026, 0, 6, 12);
    pipeline.answer = () => ({ allowed: true, verdict: allow, grantExpiresAt });
    client.send(encodeQuery("SELECT 1"));
    await turns();
    expect(handle.grants).toEqual([grantExpiresAt]);
  });

  it("uses no grant for an admission without one", async () => {
    const { client, handle, pipeline } = setup();
    pipeline.answer = () => allowed;
    client.send(encodeQuery("SELECT 1"));
    await turns();
    expect(handle.grants).toEqual([]);
  });

  it("tells a held client which request it waits for", async () => {
    const { client, pipeline } = setup();
    client.send(encodeQuery("UPDATE items SET n = 1"));
    await turns();
    pipeline.calls[0]?.options?.onHeld?.({
      ...needsApproval,
      approval: { group: "dba", quorum: 1 },
      requestId: "req-42",
      timeoutMs: 300_000,
      expiresAt: Date.UTC(2026, 0, 6, 10, 35),
    });
    await turns();
    expect(messagesIn(client.output())).toEqual(["NoticeResponse NOTICE 00000"]);
    expect(client.output().toString()).toContain("req-42");
  });

  it("terminate() sends a FATAL error, ends both sides and reports the close once", async () => {
    const { client, server, closed, session } = setup();
    session.terminate(
      new LatchError("session_terminated", { reason: "killed by an administrator" }),
      "killed",
    );
    session.terminate(new LatchError("session_token_expired"), "expired");
    await turns();
    expect(messagesIn(client.output())).toEqual(["ErrorResponse FATAL 57P01"]);
    expect(client.output().toString()).toContain("killed by an administrator");
    expect(client.ended).toBe(true);
    expect(server.output()).toEqual(encodeFrontend({ kind: "Terminate" }));
    expect(server.ended).toBe(true);
    expect(closed).toEqual(["killed"]);
  });

  it("forwards nothing once terminated, even an admission that settles afterwards", async () => {
    const { client, server, pipeline, session } = setup();
    client.send(encodeQuery("SELECT 1"));
    await turns();
    session.terminate(new LatchError("session_terminated", { reason: "killed" }));
    pipeline.calls[0]!.settle(allowed);
    client.send(encodeQuery("SELECT 2"));
    await turns();
    expect(server.output()).toEqual(encodeFrontend({ kind: "Terminate" }));
    expect(pipeline.calls).toHaveLength(1);
  });

  it("reports an operation still running when the session ends as cut short", async () => {
    const { client, pipeline, session } = setup();
    pipeline.answer = () => allowed;
    client.send(encodeQuery("SELECT 1"));
    await turns();
    session.terminate(new LatchError("session_terminated", { reason: "killed" }));
    expect(pipeline.completed).toHaveLength(1);
    expect(pipeline.completed[0]?.result.error?.code).toBe("08006");
  });

  it("ends the session on a Terminate from the client", async () => {
    const { client, server, closed } = setup();
    client.send(encodeFrontend({ kind: "Terminate" }));
    await turns();
    expect(closed).toEqual(["client terminated the session"]);
    expect(server.output()).toEqual(encodeFrontend({ kind: "Terminate" }));
  });

  it("closes the session on a message type that is not in the protocol, and records why", async () => {
    const { client, server, pipeline, closed } = setup();
    client.send(Buffer.from([0x21, 0, 0, 0, 4])); // '!' with an empty body
    await turns();
    expect(pipeline.protocolErrors).toHaveLength(1);
    expect(pipeline.protocolErrors[0]).toMatchObject({
      sessionId: "session-1",
      error: { code: "protocol_violation" },
    });
    expect(messagesIn(client.output())).toEqual(["ErrorResponse FATAL 08P01"]);
    expect(closed[0]).toContain("protocol violation");
    expect(server.output()).toEqual(encodeFrontend({ kind: "Terminate" }));
  });

  it("ends the session with a FATAL error when the upstream breaks the protocol", async () => {
    const { client, server, closed } = setup();
    server.send(Buffer.from(encodeReadyForQuery("I")), Buffer.from([0x5a, 0xff, 0xff, 0xff, 0xff]));
    await turns();
    expect(messagesIn(client.output())).toEqual(["ReadyForQuery I", "ErrorResponse FATAL 08P01"]);
    expect(closed).toEqual(["upstream protocol failure"]);
  });
});
