import { describe, expect, it } from "vitest";
import { LatchError } from "../../../src/errors.js";
import { MaskTally } from "../../../src/masking/mask-tally.js";
import type { Operation } from "../../../src/operation/operation.js";
import type { OperationResult } from "../../../src/pipeline/pipeline-types.js";
import {
  encodeCommandComplete,
  encodeDataRow,
  encodeErrorResponse,
  encodeNoticeResponse,
  encodeParameterStatus,
  encodeReadyForQuery,
  encodeRowDescription,
} from "../../../src/protocols/postgres/encode-backend.js";
import { errorFrame } from "../../../src/protocols/postgres/errors.js";
import { FrameReader } from "../../../src/protocols/postgres/frame-reader.js";
import type { Frame, TransactionStatus } from "../../../src/protocols/postgres/messages.js";
import { ResponseRelay } from "../../../src/protocols/postgres/response-relay.js";
import { type PendingEntry, ResponseTracker } from "../../../src/protocols/postgres/response-tracker.js";
import type { ResultMasker } from "../../../src/protocols/postgres/result-masker.js";
import { toBuffer, typed } from "../../support/naive-pg-bytes.js";
import { operation } from "../../support/operation-fixtures.js";

const copyInResponse = toBuffer(typed("G", [0, 0, 0])); // text format, no columns
const copyBothResponse = toBuffer(typed("W", [0, 0, 0]));
const noData = toBuffer(typed("n"));

function setup(options: { masker?: ResultMasker; initialStatus?: TransactionStatus } = {}) {
  const tracker = new ResponseTracker();
  const completed: { operation: Operation; result: OperationResult }[] = [];
  /** What the relay reported about masking, in order with the completions ("complete <id>"). */
  const events: string[] = [];
  const relay = new ResponseRelay(tracker, {
    masker: options.masker,
    visibleUser: "agent-7",
    initialStatus: options.initialStatus ?? "I",
    complete: (op, result) => {
      events.push(`complete ${op.id}`);
      completed.push({ operation: op, result });
    },
    masked: (op, tally) =>
      events.push(
        `masked ${op.id} rows=${tally.rowsMasked} values=${tally.valuesMasked} withheld=${tally.withheld}`,
      ),
  });
  const reader = new FrameReader({ maxFrameBytes: 1 << 20, startup: false });
  /** Server bytes in (cut into frames by the real reader), what the client receives out. */
  const serve = (...frames: Buffer[]): Buffer => {
    reader.push(Buffer.concat(frames));
    const toClient: Buffer[] = [];
    for (let frame = reader.next(); frame !== undefined; frame = reader.next()) relay.handle(frame, toClient);
    return Buffer.concat(toClient);
  };
  const forwarded = (
    op: Operation | undefined,
    extra: Partial<Extract<PendingEntry, { kind: "forwarded" }>> = {},
  ) =>
    tracker.push({
      kind: "forwarded",
      operation: op,
      endsWithReady: true,
      startedAt: performance.now(),
      rows: 0,
      tags: [],
      error: undefined,
      ...extra,
    });
  return { tracker, relay, completed, events, serve, forwarded };
}

const selectResult = [
  encodeRowDescription(["id", "name"]),
  encodeDataRow(["1", "a"]),
  encodeDataRow(["2", null]),
  encodeDataRow(["3", "c"]),
  encodeCommandComplete("SELECT 3"),
];

describe("ResponseRelay: results", () => {
  it("passes a result through byte for byte and reports it once, at ReadyForQuery", () => {
    const { serve, forwarded, completed, tracker } = setup();
    const op = operation();
    forwarded(op);
    const body = serve(...selectResult);
    expect(body).toEqual(Buffer.concat(selectResult));
    expect(completed).toHaveLength(0);
    const ready = serve(encodeReadyForQuery("I"));
    expect(ready).toEqual(encodeReadyForQuery("I"));
    expect(completed).toHaveLength(1);
    expect(completed[0]?.operation).toBe(op);
    expect(completed[0]?.result).toMatchObject({ rows: 3, commandTags: ["SELECT 3"] });
    expect(completed[0]?.result).not.toHaveProperty("error");
    expect(completed[0]?.result.durationMs).toBeGreaterThanOrEqual(0);
    expect(tracker.idle).toBe(true);
    serve(encodeReadyForQuery("I")); // a stray ReadyForQuery completes nothing
    expect(completed).toHaveLength(1);
  });

  it("counts affected rows from write tags and does not count SELECT rows twice", () => {
    const { serve, forwarded, completed } = setup();
    forwarded(operation());
    serve(
      encodeDataRow(["1"]),
      encodeCommandComplete("SELECT 1"),
      encodeCommandComplete("INSERT 0 5"),
      encodeCommandComplete("UPDATE 2"),
      encodeCommandComplete("CREATE TABLE"),
      encodeReadyForQuery("I"),
    );
    expect(completed[0]?.result).toMatchObject({
      rows: 1 + 5 + 2,
      commandTags: ["SELECT 1", "INSERT 0 5", "UPDATE 2", "CREATE TABLE"],
    });
  });

  it("records the first error of an operation, cut to 512 characters", () => {
    const { serve, forwarded, completed } = setup();
    forwarded(operation());
    const out = serve(
      encodeErrorResponse({ severity: "ERROR", code: "23505", message: `duplicate key ${"k".repeat(600)}` }),
      encodeErrorResponse({ severity: "ERROR", code: "25P02", message: "current transaction is aborted" }),
      encodeReadyForQuery("E"),
    );
    expect(out[0]).toBe(0x45); // the client gets the errors
    const error = completed[0]?.result.error;
    expect(error?.code).toBe("23505");
    expect(error?.message).toHaveLength(512);
    expect(error?.message.startsWith("duplicate key")).toBe(true);
  });

  it("completes each operation with its own ReadyForQuery, in order", () => {
    const { serve, forwarded, completed } = setup();
    const first = operation();
    const second = operation();
    forwarded(first);
    forwarded(second);
    serve(encodeDataRow(["1"]), encodeCommandComplete("SELECT 1"), encodeReadyForQuery("I"));
    expect(completed.map((c) => c.operation)).toEqual([first]);
    serve(encodeCommandComplete("DELETE 4"), encodeReadyForQuery("I"));
    expect(completed.map((c) => c.operation)).toEqual([first, second]);
    expect(completed.map((c) => c.result.rows)).toEqual([1, 4]);
  });

  it("completes a Flush-ended batch with the ReadyForQuery of the batch after it", () => {
    const { serve, forwarded, completed } = setup();
    const flushed = operation({ mode: "extended" });
    const synced = operation({ mode: "extended" });
    forwarded(flushed, { endsWithReady: false });
    forwarded(synced);
    serve(encodeCommandComplete("SELECT 0"));
    expect(completed).toHaveLength(0);
    serve(encodeCommandComplete("SELECT 0"), encodeReadyForQuery("I"));
    expect(completed.map((c) => c.operation)).toEqual([flushed, synced]);
  });

  it("forwards the answers of a batch with nothing to record without reporting it", () => {
    const { serve, forwarded, completed } = setup();
    forwarded(undefined);
    const parseComplete = toBuffer(typed("1"));
    expect(serve(parseComplete, encodeReadyForQuery("I"))).toEqual(
      Buffer.concat([parseComplete, encodeReadyForQuery("I")]),
    );
    expect(completed).toHaveLength(0);
  });

  it("sends gateway-made answers only after everything forwarded before them", () => {
    const { serve, forwarded, tracker, relay } = setup();
    forwarded(operation());
    const denial = errorFrame(new LatchError("statement_denied", { reason: "no" }));
    tracker.push({ kind: "synthetic", build: () => denial });
    tracker.push({ kind: "synthetic", build: () => encodeReadyForQuery(relay.status) });
    const out = serve(encodeCommandComplete("SELECT 0"), encodeReadyForQuery("T"));
    expect(out).toEqual(
      Buffer.concat([
        encodeCommandComplete("SELECT 0"),
        encodeReadyForQuery("T"),
        denial,
        encodeReadyForQuery("T"),
      ]),
    );
    expect(tracker.idle).toBe(true);
  });

  it("passes notices through, outside any operation too", () => {
    const { serve } = setup();
    const notice = encodeNoticeResponse({
      severity: "NOTICE",
      code: "00000",
      message: "relation exists, skipping",
    });
    expect(serve(notice)).toEqual(notice);
  });
});

describe("ResponseRelay: session state", () => {
  it("keeps the transaction status of the last ReadyForQuery", () => {
    const { serve, relay } = setup({ initialStatus: "T" });
    expect(relay.status).toBe("T");
    serve(encodeReadyForQuery("E"));
    expect(relay.status).toBe("E");
    serve(encodeReadyForQuery("I"));
    expect(relay.status).toBe("I");
  });

  it("opens COPY IN on CopyInResponse and closes it at ReadyForQuery", () => {
    const { serve, relay, forwarded } = setup();
    forwarded(operation());
    expect(serve(copyInResponse)).toEqual(copyInResponse);
    expect(relay.copyIn).toBe(true);
    serve(encodeCommandComplete("COPY 2"), encodeReadyForQuery("I"));
    expect(relay.copyIn).toBe(false);
  });

  it("refuses to relay COPY BOTH", () => {
    const { serve, forwarded } = setup();
    forwarded(operation());
    expect(() => serve(copyBothResponse)).toThrow(/COPY BOTH/);
  });
});

describe("ResponseRelay: ParameterStatus guard", () => {
  it("shows the client's own principal instead of the upstream user", () => {
    const { serve } = setup();
    expect(serve(encodeParameterStatus("session_authorization", "app_reader"))).toEqual(
      encodeParameterStatus("session_authorization", "agent-7"),
    );
  });

  it("passes other parameters untouched", () => {
    const { serve } = setup();
    const timezone = encodeParameterStatus("TimeZone", "UTC");
    const encoding = encodeParameterStatus("client_encoding", "UTF8");
    expect(serve(timezone, encoding)).toEqual(Buffer.concat([timezone, encoding]));
  });

  it.each([
    ["client_encoding", "LATIN1"],
    ["standard_conforming_strings", "off"],
  ])("ends the session when the server changes %s to %s", (name, value) => {
    const { serve } = setup();
    expect(() => serve(encodeParameterStatus(name, value))).toThrow(name);
  });
});

describe("ResponseRelay: masking and gateway-sent statements", () => {
  /** Replaces every DataRow with one masked row, drops NoticeResponses, and remembers what it was shown. */
  function fakeMasker(): ResultMasker & { seen: number[] } {
    const masked = encodeDataRow(["****"]);
    return {
      active: true,
      seen: [],
      tally: new MaskTally(),
      checkStatement: () => ({ ok: true }),
      prepare: () => undefined,
      maskParameterPreview: (text) => text,
      onServerFrame(frame: Frame) {
        this.seen.push(frame.type);
        if (frame.type === 0x44) {
          this.tally.noteMaskedRow(1);
          return masked;
        }
        if (frame.type === 0x4e) return null;
        return frame.raw;
      },
    };
  }

  it("sends and counts the masked frames, and drops what the masker withholds", () => {
    const masker = fakeMasker();
    const { serve, forwarded, completed } = setup({ masker });
    forwarded(operation());
    const out = serve(
      encodeDataRow(["123-45-6789"]),
      encodeNoticeResponse({ severity: "NOTICE", code: "00000", message: "x" }),
      encodeCommandComplete("SELECT 1"),
      encodeReadyForQuery("I"),
    );
    expect(out).toEqual(
      Buffer.concat([encodeDataRow(["****"]), encodeCommandComplete("SELECT 1"), encodeReadyForQuery("I")]),
    );
    expect(out.includes("123-45-6789")).toBe(false);
    expect(completed[0]?.result.rows).toBe(1);
  });

  it("reports one masking tally per operation, just before it completes, and none for an unmasked one", () => {
    const masker = fakeMasker();
    const { serve, forwarded, events } = setup({ masker });
    const first = operation();
    const second = operation();
    forwarded(first);
    forwarded(second);
    serve(
      encodeDataRow(["123-45-6789"]),
      encodeDataRow(["987-65-4321"]),
      encodeCommandComplete("SELECT 2"),
      encodeReadyForQuery("I"),
      encodeCommandComplete("SELECT 0"),
      encodeReadyForQuery("I"),
    );
    expect(first.id).not.toBe(second.id);
    expect(events).toEqual([
      `masked ${first.id} rows=2 values=2 withheld=false`,
      `complete ${first.id}`,
      `complete ${second.id}`,
    ]);
    expect(masker.tally.touched).toBe(false);
  });

  it("hides the answers to Describes the gateway inserted, but lets the masker learn from them", () => {
    const masker = fakeMasker();
    const { serve, forwarded } = setup({ masker });
    forwarded(operation(), { describeAnswers: 0, hiddenAnswers: new Set([0]) });
    const inserted = encodeRowDescription(["ssn"]);
    const asked = encodeRowDescription(["id"]);
    const out = serve(inserted, noData, asked, encodeReadyForQuery("I"));
    expect(out).toEqual(Buffer.concat([noData, asked, encodeReadyForQuery("I")]));
    expect(masker.seen.filter((type) => type === 0x54)).toHaveLength(2);
  });

  it("swallows the replies to the poison query, then sends what the gateway answered", () => {
    const masker = fakeMasker();
    const { serve, tracker, relay } = setup({ masker, initialStatus: "T" });
    const denial = errorFrame(new LatchError("statement_denied", { reason: "writes are forbidden" }));
    tracker.push({ kind: "poison" });
    tracker.push({ kind: "synthetic", build: () => denial });
    tracker.push({ kind: "synthetic", build: () => encodeReadyForQuery(relay.status) });
    const out = serve(
      encodeErrorResponse({
        severity: "ERROR",
        code: "42601",
        message: 'syntax error at or near "LATCH_DENIED"',
      }),
      encodeReadyForQuery("E"),
    );
    expect(out).toEqual(Buffer.concat([denial, encodeReadyForQuery("E")]));
    expect(relay.status).toBe("E");
    expect(masker.seen).toEqual([]); // poison replies never reach the masker
    expect(tracker.idle).toBe(true);
  });
});
