import { describe, expect, it } from "vitest";
import { decodeBackend, readCommandTagRows } from "../../../src/protocols/postgres/decode-backend.js";
import { ProtocolViolation } from "../../../src/protocols/postgres/frame-reader.js";
import type { Frame } from "../../../src/protocols/postgres/messages.js";
import { type Bytes, cstr, int16, int32, rawCstr, toBuffer, typed } from "../../support/naive-pg-bytes.js";
import { cut, feed, feedExpectingError, splitPoints } from "./split-feed.js";

const options = { maxFrameBytes: 64 * 1024, startup: false };
const decode = (frame: Frame) => decodeBackend(frame);
const buf = (bytes: Bytes) => toBuffer(bytes);

function field(code: string, value: string): Bytes {
  return [code.charCodeAt(0), ...cstr(value)];
}

describe("decodeBackend: well-formed messages at every split", () => {
  const cases: [string, Bytes, unknown][] = [
    ["AuthenticationOk", typed("R", int32(0)), { kind: "AuthenticationOk" }],
    ["AuthenticationCleartextPassword", typed("R", int32(3)), { kind: "AuthenticationCleartextPassword" }],
    [
      "AuthenticationMD5Password",
      typed("R", int32(5), [1, 2, 3, 4]),
      { kind: "AuthenticationMD5Password", salt: buf([1, 2, 3, 4]) },
    ],
    [
      "AuthenticationSASL",
      typed("R", int32(10), cstr("SCRAM-SHA-256-PLUS"), cstr("SCRAM-SHA-256"), [0]),
      { kind: "AuthenticationSASL", mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"] },
    ],
    [
      "AuthenticationSASLContinue",
      typed("R", int32(11), [0x72, 0x3d, 0x61]),
      { kind: "AuthenticationSASLContinue", data: buf([0x72, 0x3d, 0x61]) },
    ],
    [
      "AuthenticationSASLFinal",
      typed("R", int32(12), [0x76, 0x3d]),
      { kind: "AuthenticationSASLFinal", data: buf([0x76, 0x3d]) },
    ],
    ["AuthenticationGSS", typed("R", int32(7)), { kind: "AuthenticationUnsupported", method: 7 }],
    [
      "AuthenticationGSSContinue with data",
      typed("R", int32(8), [1, 2, 3]),
      { kind: "AuthenticationUnsupported", method: 8 },
    ],
    [
      "ParameterStatus",
      typed("S", cstr("client_encoding"), cstr("UTF8")),
      { kind: "ParameterStatus", name: "client_encoding", value: "UTF8" },
    ],
    [
      "BackendKeyData (4-byte key)",
      typed("K", int32(777), [1, 2, 3, 4]),
      { kind: "BackendKeyData", processId: 777, secretKey: buf([1, 2, 3, 4]) },
    ],
    [
      "BackendKeyData (32-byte key)",
      typed("K", int32(1), new Array(32).fill(5)),
      { kind: "BackendKeyData", processId: 1, secretKey: buf(new Array(32).fill(5)) },
    ],
    ["ReadyForQuery idle", typed("Z", [0x49]), { kind: "ReadyForQuery", status: "I" }],
    ["ReadyForQuery in transaction", typed("Z", [0x54]), { kind: "ReadyForQuery", status: "T" }],
    ["ReadyForQuery failed transaction", typed("Z", [0x45]), { kind: "ReadyForQuery", status: "E" }],
    [
      "ErrorResponse with every field",
      typed(
        "E",
        field("S", "ERROR"),
        field("V", "ERROR"),
        field("C", "42P01"),
        field("M", 'relation "nope" does not exist'),
        field("D", "detail"),
        field("H", "hint"),
        field("P", "15"),
        [0],
      ),
      {
        kind: "ErrorResponse",
        fields: {
          severity: "ERROR",
          code: "42P01",
          message: 'relation "nope" does not exist',
          detail: "detail",
          hint: "hint",
        },
      },
    ],
    [
      "ErrorResponse prefers the unlocalized V over a translated S",
      typed("E", field("S", "SCHWERWIEGEND"), field("V", "FATAL"), field("C", "28P01"), field("M", "x"), [0]),
      { kind: "ErrorResponse", fields: { severity: "FATAL", code: "28P01", message: "x" } },
    ],
    [
      "ErrorResponse with a translated S and no V falls back to ERROR",
      typed("E", field("S", "FEHLER"), field("C", "42601"), field("M", "Syntaxfehler"), [0]),
      { kind: "ErrorResponse", fields: { severity: "ERROR", code: "42601", message: "Syntaxfehler" } },
    ],
    [
      "NoticeResponse",
      typed(
        "N",
        field("S", "WARNING"),
        field("V", "WARNING"),
        field("C", "01000"),
        field("M", "careful"),
        [0],
      ),
      { kind: "NoticeResponse", fields: { severity: "WARNING", code: "01000", message: "careful" } },
    ],
    ["CommandComplete", typed("C", cstr("INSERT 0 3")), { kind: "CommandComplete", tag: "INSERT 0 3" }],
    [
      "NegotiateProtocolVersion",
      typed("v", int32(0), int32(2), cstr("_pq_.a"), cstr("_pq_.b")),
      { kind: "NegotiateProtocolVersion", newestMinor: 0, unrecognized: ["_pq_.a", "_pq_.b"] },
    ],
    ["DataRow is Other", typed("D", int16(1), int32(1), [0x31]), { kind: "Other", type: 0x44 }],
    ["RowDescription is Other", typed("T", int16(0)), { kind: "Other", type: 0x54 }],
  ];

  it.each(cases)("%s", (_name, bytes, expected) => {
    const stream = toBuffer(bytes);
    for (const points of splitPoints(stream.length)) {
      expect(feed(cut(stream, points), options, decode).results, `split ${points.join(",")}`).toEqual([
        expected,
      ]);
    }
  });

  it("decodes a LATIN1 error message leniently rather than refusing it", () => {
    const bytes = typed(
      "E",
      field("V", "FATAL"),
      field("C", "28000"),
      [0x4d, 0x63, 0x61, 0x66, 0xe9, 0],
      [0],
    );
    const { results } = feed([toBuffer(bytes)], options, decode);
    expect(results).toEqual([
      { kind: "ErrorResponse", fields: { severity: "FATAL", code: "28000", message: "caf\uFFFD" } },
    ]);
  });

  it("copies handshake values out of the frame", () => {
    const stream = toBuffer(typed("K", int32(1), [1, 2, 3, 4]));
    const kept: Buffer[] = [];
    feed([stream], options, (frame) => {
      const message = decodeBackend(frame);
      if (message.kind === "BackendKeyData") kept.push(message.secretKey);
    });
    stream.fill(0); // the reader's memory is reused once frames are consumed
    expect(kept).toEqual([buf([1, 2, 3, 4])]);
  });
});

describe("decodeBackend: malformed messages are ProtocolViolations", () => {
  const cases: [string, Bytes, string | RegExp][] = [
    ["Authentication without a method", typed("R", [0, 0]), /Authentication: expected an int32/],
    [
      "AuthenticationOk with trailing bytes",
      typed("R", int32(0), [1]),
      "Authentication: 1 unexpected trailing bytes",
    ],
    ["AuthenticationMD5Password with a short salt", typed("R", int32(5), [1, 2]), /expected 4 bytes/],
    [
      "AuthenticationSASL without the terminator",
      typed("R", int32(10), cstr("SCRAM-SHA-256")),
      /missing its NUL/,
    ],
    [
      "ParameterStatus without a value",
      typed("S", cstr("TimeZone")),
      /value of parameter "TimeZone" is missing/,
    ],
    ["ParameterStatus with invalid UTF-8", typed("S", cstr("x"), rawCstr([0xff])), /not valid UTF-8/],
    [
      "BackendKeyData with a 3-byte key",
      typed("K", int32(1), [1, 2, 3]),
      "BackendKeyData: secret key of 3 bytes is outside 4..256",
    ],
    [
      "BackendKeyData with a 257-byte key",
      typed("K", int32(1), new Array(257).fill(0)),
      /257 bytes is outside/,
    ],
    ["ReadyForQuery with status X", typed("Z", [0x58]), 'ReadyForQuery: unknown transaction status "X"'],
    ["ReadyForQuery with no status", typed("Z"), /expected a byte/],
    [
      "ErrorResponse without a message",
      typed("E", field("V", "ERROR"), field("C", "XX000"), [0]),
      "ErrorResponse: missing the message field (M)",
    ],
    [
      "ErrorResponse without a code",
      typed("E", field("V", "ERROR"), field("M", "m"), [0]),
      "ErrorResponse: missing the SQLSTATE field (C)",
    ],
    [
      "ErrorResponse without the final NUL",
      typed("E", field("C", "XX000"), field("M", "m")),
      /expected a byte/,
    ],
    ["NoticeResponse with a field cut short", typed("N", [0x4d, 0x61]), /missing its NUL/],
    ["CommandComplete with trailing bytes", typed("C", cstr("BEGIN"), [1]), /trailing/],
    [
      "NegotiateProtocolVersion with a negative count",
      typed("v", int32(0), int32(-1)),
      "NegotiateProtocolVersion: invalid option count -1",
    ],
    [
      "NegotiateProtocolVersion claiming 2^31-1 options",
      typed("v", int32(0), int32(0x7fffffff), cstr("a")),
      /invalid option count 2147483647/,
    ],
    [
      "NegotiateProtocolVersion with fewer options",
      typed("v", int32(0), int32(2), cstr("a")),
      /missing its NUL/,
    ],
  ];

  it.each(cases)("%s", (_name, bytes, reason) => {
    const stream = toBuffer(bytes);
    for (const points of splitPoints(stream.length, 24)) {
      const error = feedExpectingError(cut(stream, points), options, decode);
      expect(error).toBeInstanceOf(ProtocolViolation);
      expect((error as ProtocolViolation).reason).toMatch(reason);
    }
  });
});

describe("readCommandTagRows", () => {
  it.each([
    ["SELECT 5", 5],
    ["SELECT 0", 0],
    ["INSERT 0 3", 3],
    ["INSERT 16384 1", 1],
    ["UPDATE 2", 2],
    ["DELETE 10", 10],
    ["MERGE 4", 4],
    ["FETCH 100", 100],
    ["MOVE 7", 7],
    ["COPY 12345", 12345],
    ["BEGIN", undefined],
    ["CREATE TABLE", undefined],
    ["SET", undefined],
    ["SELECT", undefined],
    ["INSERT 3", undefined],
    ["SELECT 5 extra", undefined],
    ["UPDATE -1", undefined],
    ["", undefined],
  ])("%j -> %j", (tag, rows) => {
    expect(readCommandTagRows(tag)).toBe(rows);
  });
});
