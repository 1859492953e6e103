/**
 * The MySQL result masker on hand-built answers: column definitions and rows built by naive byte builders,
 * pushed through the response tracker and the masker the way the session does, and the output read back with
 * the real packet reader (which refuses a sequence id out of order).
 */
import { describe, expect, it } from "vitest";
import { compileMaskingProfiles } from "../../../src/masking/masking-profile.js";
import { CAPABILITY } from "../../../src/protocols/mysql/capabilities.js";
import { COLUMN_TYPE, decodeColumnDefinition } from "../../../src/protocols/mysql/column-definition.js";
import { type MysqlMessage, PacketReader } from "../../../src/protocols/mysql/packet-reader.js";
import { decodeErr } from "../../../src/protocols/mysql/response-packets.js";
import { type ResponseSummary, ResponseTracker } from "../../../src/protocols/mysql/response-tracker.js";
import { MysqlResultMasker } from "../../../src/protocols/mysql/result-masker.js";
import { scrubQuotedValues } from "../../../src/protocols/mysql/row-masker.js";
import { answeredError, deliveredRows } from "../../../src/protocols/mysql/session-steps.js";
import { naiveMessage } from "../../support/naive-mysql-bytes.js";

const CAPS = CAPABILITY.PROTOCOL_41 | CAPABILITY.DEPRECATE_EOF;

function lenenc(value: Buffer | string): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  const n = bytes.length;
  let prefix: Buffer;
  if (n < 251) prefix = Buffer.from([n]);
  else if (n < 0x10000) prefix = Buffer.from([0xfc, n & 0xff, n >> 8]);
  else if (n < 0x1000000) prefix = Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]);
  else {
    prefix = Buffer.alloc(9);
    prefix[0] = 0xfe;
    prefix.writeUInt32LE(n, 1);
  }
  return Buffer.concat([prefix, bytes]);
}

function columnDef(db: string, orgTable: string, orgName: string, type: number, flags = 0): Buffer {
  const fixed = Buffer.alloc(13);
  fixed[0] = 0x0c;
  fixed.writeUInt16LE(224, 1);
  fixed.writeUInt32LE(255, 3);
  fixed[7] = type;
  fixed.writeUInt16LE(flags, 8);
  return Buffer.concat([
    lenenc("def"),
    lenenc(db),
    lenenc(orgTable || ""),
    lenenc(orgTable),
    lenenc(orgName || "expr"),
    lenenc(orgName),
    fixed,
  ]);
}

/** A column definition with another display name (the `name` field), everything else kept. */
function renamed(definition: Buffer, name: string): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (let field = 0; field < 6; field++) {
    const length = definition[at]!;
    parts.push(field === 4 ? lenenc(name) : definition.subarray(at, at + 1 + length));
    at += 1 + length;
  }
  return Buffer.concat([...parts, definition.subarray(at)]);
}

const textRow = (...values: (string | null)[]) =>
  Buffer.concat(values.map((v) => (v === null ? Buffer.from([0xfb]) : lenenc(v))));
const okEnd = Buffer.from([0xfe, 0, 0, 0x02, 0, 0, 0]);

/** Frames payloads as one answer (sequence ids from 1), runs it through tracker + masker, returns the bytes. */
function relay(payloads: Buffer[], masker: MysqlResultMasker, binary = false): Buffer {
  const tracker = new ResponseTracker(CAPS);
  masker.begin({ binary, echoesDiagnostics: false });
  const reader = new PacketReader({ maxMessageBytes: 64 << 20 });
  let seq = 1;
  for (const payload of payloads) {
    const framed = naiveMessage(seq, payload);
    seq += Math.floor(payload.length / 0xffffff) + 1;
    reader.push(framed);
  }
  const out: Buffer[] = [];
  for (let m = reader.next(); m !== undefined; m = reader.next()) {
    tracker.push(m.payload);
    const sent = masker.relay(m, tracker.kind);
    if (sent !== undefined) out.push(Buffer.from(sent));
  }
  return Buffer.concat(out);
}

/** The client's view: messages in order, sequence ids checked by the real reader. */
function readBack(bytes: Buffer): MysqlMessage[] {
  const reader = new PacketReader({ maxMessageBytes: 64 << 20 });
  reader.push(bytes);
  const messages: MysqlMessage[] = [];
  let expected = 1;
  for (let m = reader.next(); m !== undefined; m = reader.next()) {
    expect(m.sequenceId).toBe(expected);
    expected = (m.lastSequenceId + 1) & 0xff;
    messages.push(m);
  }
  return messages;
}

function masker(
  columns: (string | { column: string; strategy: "redact" | "partial" | "null" })[],
  onFailure: string[] = [],
) {
  const profile = compileMaskingProfiles(
    ["p"],
    {
      p: {
        detectors: ["ssn", "card"],
        custom_detectors: [],
        columns,
        strategy: "partial",
        keep_last: 4,
        on_derived: "deny",
        strict: false,
      },
    },
    undefined,
    "shop",
  );
  return new MysqlResultMasker(profile, CAPS, (reason) => onFailure.push(reason));
}

describe("ColumnDefinition41", () => {
  it("decodes provenance, type and flags", () => {
    const def = decodeColumnDefinition(columnDef("shop", "users", "ssn", COLUMN_TYPE.VAR_STRING, 0x20));
    expect(def).toMatchObject({
      schema: "shop",
      orgTable: "users",
      orgName: "ssn",
      type: 253,
      flags: 0x20,
      charset: 224,
    });
  });

  it("refuses a truncated definition", () => {
    expect(() => decodeColumnDefinition(columnDef("shop", "users", "ssn", 253).subarray(0, 20))).toThrow();
  });
});

describe("text rows", () => {
  it("applies column rules by <db>.<org_table>.<org_name> and detectors on derived columns", () => {
    const m = masker(["users.ssn", { column: "users.notes", strategy: "redact" }]);
    const out = readBack(
      relay(
        [
          Buffer.from([3]),
          columnDef("shop", "users", "ssn", COLUMN_TYPE.VAR_STRING),
          columnDef("shop", "users", "notes", COLUMN_TYPE.BLOB),
          columnDef("", "", "", COLUMN_TYPE.VAR_STRING),
          textRow("123-45-6789", "free text", "card 4111 1111 1111 1111"),
          textRow(null, null, null),
          okEnd,
        ],
        m,
      ),
    );
    expect(out).toHaveLength(7);
    expect(out[4]!.payload).toEqual(textRow("***-**-6789", "[redacted]", "card **** **** **** 1111"));
    expect(out[5]!.payload).toEqual(textRow(null, null, null));
  });

  it("does not mask the same names in another database", () => {
    const m = masker(["users.ssn"]);
    const out = readBack(
      relay([Buffer.from([1]), columnDef("other", "users", "ssn", 253), textRow("abc"), okEnd], m),
    );
    expect(out[2]!.payload).toEqual(textRow("abc"));
  });

  it("masks a column reported without its database (a materialized derived table) by table and column", () => {
    const m = masker([{ column: "users.notes", strategy: "redact" }]);
    const out = readBack(
      relay([Buffer.from([1]), columnDef("", "users", "notes", 252), textRow("secret"), okEnd], m),
    );
    expect(out[2]!.payload).toEqual(textRow("[redacted]"));
  });

  it("makes a masked number NULL (a masked string would not parse), by rule or by detection", () => {
    const m = masker(["users.pin"]);
    const out = readBack(
      relay(
        [
          Buffer.from([2]),
          columnDef("shop", "users", "pin", COLUMN_TYPE.LONG),
          columnDef("shop", "users", "card", COLUMN_TYPE.LONGLONG),
          textRow("1234", "4111111111111111"),
          textRow("1234", "42"),
          okEnd,
        ],
        m,
      ),
    );
    expect(out[3]!.payload).toEqual(textRow(null, null));
    expect(out[4]!.payload).toEqual(textRow(null, "42"));
  });

  it("re-frames a row that shrinks from two packets to one and renumbers everything after it", () => {
    const m = masker([{ column: "big.body", strategy: "redact" }]);
    const body = "x".repeat(0xffffff + 10);
    const bytes = relay(
      [Buffer.from([1]), columnDef("shop", "big", "body", 251), textRow(body), textRow("small"), okEnd],
      m,
    );
    const out = readBack(bytes);
    expect(out.map((message) => message.sequenceId)).toEqual([1, 2, 3, 4, 5]);
    expect(out[2]!.payload).toEqual(textRow("[redacted]"));
    expect(out[3]!.payload).toEqual(textRow("[redacted]"));
  });

  it("re-frames a row that grows past 16 MiB into two packets", () => {
    const m = masker([{ column: "users.notes", strategy: "redact" }]);
    // 4 + (0xffffff - 10) + 3 bytes: one packet; "ab" -> "[redacted]" adds 8 and crosses the boundary.
    const filler = "y".repeat(0xffffff - 10);
    const out = readBack(
      relay(
        [
          Buffer.from([2]),
          columnDef("", "", "", 251),
          columnDef("shop", "users", "notes", 252),
          textRow(filler, "ab"),
          okEnd,
        ],
        m,
      ),
    );
    expect(out).toHaveLength(5);
    // Buffer.equals: a deep comparison of 16 MiB in the test runner would take minutes.
    expect(out[3]!.payload.equals(textRow(filler, "[redacted]"))).toBe(true);
    expect(out[3]!.lastSequenceId).toBe(5);
    expect(out[4]!.sequenceId).toBe(6);
  });
});

describe("binary rows", () => {
  const binaryRow = (types: number[], values: (Buffer | null)[]) => {
    const bitmap = Buffer.alloc((types.length + 9) >> 3);
    const parts: Buffer[] = [];
    values.forEach((value, i) => {
      if (value === null) bitmap[(i + 2) >> 3]! |= 1 << ((i + 2) & 7);
      else parts.push(value);
    });
    return Buffer.concat([Buffer.from([0]), bitmap, ...parts]);
  };
  const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    return b;
  };
  const int64 = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(n);
    return b;
  };

  it("masks strings in place, NULLs masked numbers, and sets their NULL bits", () => {
    const m = masker(["users.ssn", "users.pin"]);
    const types = [COLUMN_TYPE.LONG, COLUMN_TYPE.VAR_STRING, COLUMN_TYPE.LONG, COLUMN_TYPE.LONGLONG];
    const out = readBack(
      relay(
        [
          Buffer.from([4]),
          columnDef("shop", "users", "id", types[0]!),
          columnDef("shop", "users", "ssn", types[1]!),
          columnDef("shop", "users", "pin", types[2]!),
          columnDef("shop", "users", "card", types[3]!),
          binaryRow(types, [int32(7), lenenc("123-45-6789"), int32(1234), int64(4111111111111111n)]),
          okEnd,
        ],
        m,
        true,
      ),
    );
    expect(out[5]!.payload).toEqual(binaryRow(types, [int32(7), lenenc("***-**-6789"), null, null]));
  });

  it("withholds the result when a binary row does not match its columns", () => {
    const failures: string[] = [];
    const m = masker(["users.ssn"], failures);
    const types = [COLUMN_TYPE.VAR_STRING];
    const out = readBack(
      relay(
        [
          Buffer.from([1]),
          columnDef("shop", "users", "ssn", 253),
          Buffer.concat([binaryRow(types, [lenenc("a")]), Buffer.from([1])]),
          binaryRow(types, [lenenc("123-45-6789")]),
          okEnd,
        ],
        m,
        true,
      ),
    );
    // The header went out, the bad row became an ERR, and nothing after it was sent.
    expect(out).toHaveLength(3);
    expect(decodeErr(out[2]!.payload).message).toMatch(/result withheld by Latch masking/);
    expect(failures).toHaveLength(1);
  });
});

describe("withholding", () => {
  it("answers a result with an unknown column type with one ERR and nothing else", () => {
    const failures: string[] = [];
    const m = masker(["users.ssn"], failures);
    const out = readBack(
      relay([Buffer.from([1]), columnDef("shop", "users", "ssn", 200), textRow("123-45-6789"), okEnd], m),
    );
    expect(out).toHaveLength(1);
    expect(out[0]!.sequenceId).toBe(1);
    expect(decodeErr(out[0]!.payload)).toMatchObject({ code: 1142, sqlState: "42000" });
    expect(failures[0]).toMatch(/unknown type 200/);
  });

  it("withholds a result whose column definition cannot be read", () => {
    const m = masker(["users.ssn"]);
    const out = readBack(
      relay([Buffer.from([1]), Buffer.from([3, 0x64, 0x65]), textRow("123-45-6789"), okEnd], m),
    );
    expect(out).toHaveLength(1);
    expect(decodeErr(out[0]!.payload).message).toMatch(/column definition could not be read/);
  });
});

describe("the operation_result of a withheld answer", () => {
  const summary = (error?: { code: string; message: string }): ResponseSummary => ({
    rows: 1,
    affectedRows: 0,
    status: 2,
    ...(error === undefined ? {} : { error }),
  });

  it("records result_withheld for an answer the masker withheld, though the server answered fine", () => {
    const m = masker(["users.ssn"]);
    relay([Buffer.from([1]), columnDef("shop", "users", "ssn", 200), textRow("123-45-6789"), okEnd], m);
    expect(m.withheldReason).toMatch(/unknown type 200/);
    const error = answeredError(summary(), m);
    expect(error).toEqual({
      code: "result_withheld",
      message: expect.stringMatching(/^result withheld by Latch masking: column ssn has an unknown type 200/),
    });
    expect(JSON.stringify(error)).not.toContain("123-45-6789");
  });

  it("records 0 rows delivered for a withheld answer, and the server's count beside it", () => {
    const m = masker(["users.ssn"]);
    relay([Buffer.from([1]), columnDef("shop", "users", "ssn", 200), textRow("123-45-6789"), okEnd], m);
    expect(deliveredRows(summary(), m)).toEqual({ rows: 0, details: { serverRows: 1 } });
    relay(
      [Buffer.from([1]), columnDef("shop", "users", "ssn", COLUMN_TYPE.VAR_STRING), textRow("x"), okEnd],
      m,
    );
    expect(deliveredRows(summary(), m)).toEqual({ rows: 1 });
    expect(deliveredRows({ rows: 0, affectedRows: 4, status: 2 }, undefined)).toEqual({ rows: 4 });
  });

  it("forgets the withheld state when the next command's answer begins", () => {
    const m = masker(["users.ssn"]);
    relay([Buffer.from([1]), columnDef("shop", "users", "ssn", 200), textRow("123-45-6789"), okEnd], m);
    relay(
      [Buffer.from([1]), columnDef("shop", "users", "ssn", COLUMN_TYPE.VAR_STRING), textRow("x"), okEnd],
      m,
    );
    expect(m.withheldReason).toBeUndefined();
    expect(answeredError(summary(), m)).toBeUndefined();
  });

  it("records a server error scrubbed, and nothing without masking", () => {
    const m = masker(["users.ssn"]);
    m.begin({ binary: false, echoesDiagnostics: false });
    const duplicate = { code: "1062", message: "Duplicate entry '123-45-6789' for key 'u'" };
    expect(answeredError(summary(duplicate), m)).toEqual({
      code: "1062",
      message: "Duplicate entry '[masked]'",
    });
    expect(answeredError(summary(duplicate), undefined)).toEqual(duplicate);
    expect(answeredError(summary(), undefined)).toBeUndefined();
  });
});

describe("errors", () => {
  const err = (message: string) =>
    Buffer.concat([Buffer.from([0xff, 0x26, 0x04, 0x23]), Buffer.from("23000"), Buffer.from(message)]);

  it("scrubs quoted values from ERR packets when the profile has column rules", () => {
    const m = masker(["users.notes"]);
    const out = readBack(relay([err("Duplicate entry 'free text-1' for key 'u'")], m));
    expect(decodeErr(out[0]!.payload)).toMatchObject({
      code: 1062,
      sqlState: "23000",
      message: "Duplicate entry '[masked]'",
    });
  });

  it("masks detected values in ERR packets with detectors only", () => {
    const m = masker([]);
    const out = readBack(relay([err("Duplicate entry '123-45-6789' for key 'u'")], m));
    expect(decodeErr(out[0]!.payload).message).toBe("Duplicate entry '***-**-6789' for key 'u'");
  });

  it("scrubs quoted values in SHOW WARNINGS rows, known by their columns even when prepared", () => {
    const m = masker(["users.notes"]);
    const out = readBack(
      relay(
        [
          Buffer.from([3]),
          columnDef("", "", "", COLUMN_TYPE.VAR_STRING, 0),
          columnDef("", "", "", COLUMN_TYPE.LONG, 0),
          columnDef("", "", "", COLUMN_TYPE.VAR_STRING, 0),
          textRow("Warning", "1292", "Truncated incorrect DOUBLE value: 'free text'"),
          okEnd,
        ].map((payload, i) =>
          i >= 1 && i <= 3 ? renamed(payload, ["Level", "Code", "Message"][i - 1]!) : payload,
        ),
        m,
      ),
    );
    expect(out[4]!.payload).toEqual(
      textRow("Warning", "1292", "Truncated incorrect DOUBLE value: '[masked]'"),
    );
  });

  it("scrubQuotedValues leaves no piece of a value that holds quotes", () => {
    expect(scrubQuotedValues("Duplicate entry 'a'b'c' for key 'k'")).toBe("Duplicate entry '[masked]'");
    expect(scrubQuotedValues("value 'cut short")).toBe("value '[masked]");
    expect(scrubQuotedValues("no quotes")).toBe("no quotes");
  });
});
