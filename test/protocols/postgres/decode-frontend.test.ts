import { describe, expect, it } from "vitest";
import { decodeFrontend, decodeStartupPhase } from "../../../src/protocols/postgres/decode-frontend.js";
import { ProtocolViolation } from "../../../src/protocols/postgres/frame-reader.js";
import type { Frame } from "../../../src/protocols/postgres/messages.js";
import {
  type Bytes,
  bind,
  cstr,
  int16,
  int32,
  rawCstr,
  startupMessage,
  toBuffer,
  typed,
  untyped,
} from "../../support/naive-pg-bytes.js";
import { cut, feed, feedExpectingError, splitPoints } from "./split-feed.js";

const typedOptions = { maxFrameBytes: 64 * 1024, startup: false };
const startupOptions = { maxFrameBytes: 64 * 1024, startup: true };
const decodeTyped = (frame: Frame) => decodeFrontend(frame);
const decodeStartup = (frame: Frame) => decodeStartupPhase(frame);

/** Decodes the stream at every split and checks each gives `expected`. */
function expectAtEverySplit(bytes: Bytes, expected: unknown, startup = false): void {
  const stream = toBuffer(bytes);
  for (const points of splitPoints(stream.length)) {
    const { results, leftover } = feed(
      cut(stream, points),
      startup ? startupOptions : typedOptions,
      startup ? decodeStartup : decodeTyped,
    );
    expect(results, `split at ${points.join(",")}`).toEqual([expected]);
    expect(leftover).toBe(0);
  }
}

/** Decoding fails with exactly this reason at every split, never with another kind of error. */
function expectViolationAtEverySplit(bytes: Bytes, reason: string | RegExp, startup = false): void {
  const stream = toBuffer(bytes);
  for (const points of splitPoints(stream.length, 24)) {
    const error = feedExpectingError(
      cut(stream, points),
      startup ? startupOptions : typedOptions,
      startup ? decodeStartup : decodeTyped,
    );
    expect(error, `split at ${points.join(",")}`).toBeInstanceOf(ProtocolViolation);
    expect((error as ProtocolViolation).reason).toMatch(reason);
  }
}

const buf = (bytes: Bytes) => toBuffer(bytes);

describe("decodeFrontend: well-formed messages at every split", () => {
  const cases: [string, Bytes, unknown][] = [
    ["Query", typed("Q", cstr("SELECT 1")), { kind: "Query", sql: "SELECT 1" }],
    ["empty Query", typed("Q", cstr("")), { kind: "Query", sql: "" }],
    [
      "Query with multi-byte UTF-8",
      typed("Q", cstr("SELECT 'é✓😀'")),
      { kind: "Query", sql: "SELECT 'é✓😀'" },
    ],
    // A BOM must survive: the server sees it, so the classifier must too.
    [
      "Query with a leading BOM",
      typed("Q", cstr("\uFEFFSELECT 1")),
      { kind: "Query", sql: "\uFEFFSELECT 1" },
    ],
    [
      "Parse",
      typed("P", cstr("s1"), cstr("SELECT $1, $2"), int16(2), int32(23), int32(25)),
      { kind: "Parse", name: "s1", sql: "SELECT $1, $2", paramTypes: [23, 25] },
    ],
    [
      "Parse with an OID above 2^31 (unsigned)",
      typed("P", cstr(""), cstr("SELECT $1"), int16(1), [0xff, 0xff, 0xff, 0xff]),
      { kind: "Parse", name: "", sql: "SELECT $1", paramTypes: [4294967295] },
    ],
    [
      "Bind with one format for all parameters, NULL and empty values",
      bind({
        portal: "p1",
        statement: "s1",
        paramFormats: [1],
        params: [[0, 0, 0, 42], null, []],
        resultFormats: [0, 1],
      }),
      {
        kind: "Bind",
        portal: "p1",
        statement: "s1",
        paramFormats: [1],
        params: [buf([0, 0, 0, 42]), null, buf([])],
        resultFormats: [0, 1],
      },
    ],
    [
      "Bind with a format per parameter and binary NULs inside a value",
      bind({ paramFormats: [0, 1], params: [[0x61], [0, 0, 0]] }),
      {
        kind: "Bind",
        portal: "",
        statement: "",
        paramFormats: [0, 1],
        params: [buf([0x61]), buf([0, 0, 0])],
        resultFormats: [],
      },
    ],
    [
      "Bind with no parameters",
      bind({ params: [] }),
      { kind: "Bind", portal: "", statement: "", paramFormats: [], params: [], resultFormats: [] },
    ],
    ["Describe statement", typed("D", [0x53], cstr("s1")), { kind: "Describe", target: "S", name: "s1" }],
    ["Describe portal", typed("D", [0x50], cstr("")), { kind: "Describe", target: "P", name: "" }],
    ["Execute", typed("E", cstr("p1"), int32(100)), { kind: "Execute", portal: "p1", maxRows: 100 }],
    ["Execute all rows", typed("E", cstr(""), int32(0)), { kind: "Execute", portal: "", maxRows: 0 }],
    ["Close statement", typed("C", [0x53], cstr("s1")), { kind: "Close", target: "S", name: "s1" }],
    ["Close portal", typed("C", [0x50], cstr("p")), { kind: "Close", target: "P", name: "p" }],
    ["Sync", typed("S"), { kind: "Sync" }],
    ["Flush", typed("H"), { kind: "Flush" }],
    ["Terminate", typed("X"), { kind: "Terminate" }],
    ["CopyData", typed("d", [1, 2, 0, 3]), { kind: "CopyData", data: buf([1, 2, 0, 3]) }],
    ["CopyDone", typed("c"), { kind: "CopyDone" }],
    ["CopyFail", typed("f", cstr("boom")), { kind: "CopyFail", message: "boom" }],
    ["FunctionCall", typed("F", int32(1234), int16(0)), { kind: "FunctionCall" }],
    ["PasswordMessage", typed("p", cstr("token")), { kind: "PasswordMessage", data: buf(cstr("token")) }],
    ["unknown type byte", typed("Z", [1, 2, 3]), { kind: "Unknown", type: 0x5a }],
    ["type byte 0", [0, ...int32(4)], { kind: "Unknown", type: 0 }],
  ];

  it.each(cases)("%s", (_name, bytes, expected) => {
    expectAtEverySplit(bytes, expected);
  });

  it("decodes a pipelined extended-protocol batch at every split", () => {
    const stream = toBuffer([
      ...typed("P", cstr(""), cstr("SELECT $1"), int16(0)),
      ...bind({ params: [[0x31]] }),
      ...typed("E", cstr(""), int32(0)),
      ...typed("S"),
    ]);
    const kinds = ["Parse", "Bind", "Execute", "Sync"];
    for (const points of splitPoints(stream.length)) {
      const { results } = feed(cut(stream, points), typedOptions, (frame) => decodeFrontend(frame).kind);
      expect(results).toEqual(kinds);
    }
  });
});

describe("decodeFrontend: malformed messages are ProtocolViolations", () => {
  const cases: [string, Bytes, string | RegExp][] = [
    ["Query without its NUL", typed("Q", [0x61, 0x62]), "Query: query text is missing its NUL terminator"],
    ["Query with trailing bytes", typed("Q", cstr("SELECT 1"), [0x78]), "Query: 1 unexpected trailing bytes"],
    ["Query with a stray 0xff", typed("Q", rawCstr([0x61, 0xff])), "Query: query text is not valid UTF-8"],
    ["Query with an overlong '/'", typed("Q", rawCstr([0xc0, 0xaf])), /not valid UTF-8/],
    ["Query with a UTF-16 surrogate", typed("Q", rawCstr([0xed, 0xa0, 0x80])), /not valid UTF-8/],
    ["Query with a truncated sequence", typed("Q", rawCstr([0x27, 0xe2, 0x82])), /not valid UTF-8/],
    ["empty Query body", typed("Q"), /missing its NUL terminator/],
    [
      "Parse with fewer types than declared",
      typed("P", cstr(""), cstr("x"), int16(2), int32(23)),
      /2 parameter types declared/,
    ],
    ["Parse with an odd trailing byte", typed("P", cstr(""), cstr("x"), int16(0), [0]), /trailing bytes/],
    ["Parse without a count", typed("P", cstr(""), cstr("x")), /expected an int16/],
    [
      "Bind with 2 format codes for 3 parameters",
      bind({ paramFormats: [0, 1], params: [[1], [2], [3]] }),
      "Bind: 2 parameter format codes for 3 parameters",
    ],
    [
      "Bind with 3 format codes for 1 parameter",
      bind({ paramFormats: [0, 0, 0], params: [[1]] }),
      "Bind: 3 parameter format codes for 1 parameters",
    ],
    [
      "Bind with format code 2",
      bind({ paramFormats: [2], params: [[1]] }),
      "Bind: unsupported parameter format code 2",
    ],
    [
      "Bind with result format 7",
      bind({ params: [], resultFormats: [7] }),
      "Bind: unsupported result format code 7",
    ],
    [
      "Bind with a parameter length of -2",
      typed("B", cstr(""), cstr(""), int16(0), int16(1), int32(-2), int16(0)),
      "Bind: parameter 1 has invalid length -2",
    ],
    [
      "Bind with a parameter longer than the body",
      typed("B", cstr(""), cstr(""), int16(0), int16(1), int32(1000), [1, 2, 3, 4, 5, 6]),
      "Bind: parameter 1 claims 1000 bytes but only 6 remain",
    ],
    [
      "Bind declaring 65535 parameters in a tiny body",
      typed("B", cstr(""), cstr(""), int16(0), [0xff, 0xff], int32(1)),
      "Bind: 65535 parameters declared but only 4 bytes remain",
    ],
    [
      "Bind missing its result format count",
      typed("B", cstr(""), cstr(""), int16(0), int16(1), int32(1), [9]),
      /expected an int16/,
    ],
    [
      "Bind with result format codes cut short",
      typed("B", cstr(""), cstr(""), int16(0), int16(0), int16(3), int16(0)),
      "Bind: 3 result format codes declared but only 2 bytes remain",
    ],
    [
      "Bind with trailing bytes",
      typed("B", cstr(""), cstr(""), int16(0), int16(0), int16(0), [9]),
      "Bind: 1 unexpected trailing bytes",
    ],
    [
      "Bind with an invalid UTF-8 portal name",
      typed("B", rawCstr([0xfe]), cstr(""), int16(0), int16(0), int16(0)),
      "Bind: portal name is not valid UTF-8",
    ],
    [
      "Describe of target 'X'",
      typed("D", [0x58], cstr("s")),
      "Describe: target must be 'S' or 'P', got byte 88",
    ],
    ["Describe with no body", typed("D"), /expected a byte/],
    ["Close without a name", typed("C", [0x53]), /statement name is missing its NUL terminator/],
    ["Execute without maxRows", typed("E", cstr("")), /expected an int32/],
    ["Sync with a body", typed("S", [0]), "Sync: 1 unexpected trailing bytes"],
    ["Terminate with a body", typed("X", [1, 2]), "Terminate: 2 unexpected trailing bytes"],
    ["CopyFail with invalid UTF-8", typed("f", rawCstr([0x80])), /not valid UTF-8/],
  ];

  it.each(cases)("%s", (_name, bytes, reason) => {
    expectViolationAtEverySplit(bytes, reason);
  });
});

describe("decodeStartupPhase", () => {
  const key32 = Array.from({ length: 32 }, (_, i) => i + 1);
  const key256 = Array.from({ length: 256 }, (_, i) => i & 0xff);

  const cases: [string, Bytes, unknown][] = [
    ["SSLRequest", untyped(int32(80877103)), { kind: "SSLRequest" }],
    ["GSSENCRequest", untyped(int32(80877104)), { kind: "GSSENCRequest" }],
    [
      "CancelRequest with a 4-byte key (protocol 3.0)",
      untyped(int32(80877102), int32(4242), [9, 8, 7, 6]),
      { kind: "CancelRequest", processId: 4242, secretKey: buf([9, 8, 7, 6]) },
    ],
    [
      "CancelRequest with a 32-byte key (protocol 3.2)",
      untyped(int32(80877102), int32(-5), key32),
      { kind: "CancelRequest", processId: -5, secretKey: buf(key32) },
    ],
    [
      "CancelRequest with a 256-byte key",
      untyped(int32(80877102), int32(1), key256),
      { kind: "CancelRequest", processId: 1, secretKey: buf(key256) },
    ],
    [
      "StartupMessage",
      startupMessage([
        ["user", "alice"],
        ["database", "prod"],
        ["application_name", "psql ✓"],
      ]),
      {
        kind: "StartupMessage",
        protocolVersion: 196608,
        parameters: new Map([
          ["user", "alice"],
          ["database", "prod"],
          ["application_name", "psql ✓"],
        ]),
      },
    ],
    [
      "StartupMessage with protocol 3.2 and an empty value",
      startupMessage([["user", ""]], 196610),
      { kind: "StartupMessage", protocolVersion: 196610, parameters: new Map([["user", ""]]) },
    ],
    [
      "StartupMessage with no parameters",
      startupMessage([]),
      { kind: "StartupMessage", protocolVersion: 196608, parameters: new Map() },
    ],
  ];

  it.each(cases)("%s", (_name, bytes, expected) => {
    expectAtEverySplit(bytes, expected, true);
  });

  it("keeps parameters in arrival order", () => {
    const { results } = feed(
      [
        toBuffer(
          startupMessage([
            ["b", "1"],
            ["a", "2"],
            ["c", "3"],
          ]),
        ),
      ],
      startupOptions,
      (f) => {
        const message = decodeStartupPhase(f);
        return message.kind === "StartupMessage" ? [...message.parameters.keys()] : [];
      },
    );
    expect(results).toEqual([["b", "a", "c"]]);
  });

  const violations: [string, Bytes, string | RegExp][] = [
    [
      "CancelRequest with a 3-byte key",
      untyped(int32(80877102), int32(1), [1, 2, 3]),
      "CancelRequest: secret key of 3 bytes is outside 4..256",
    ],
    [
      "CancelRequest with a 257-byte key",
      untyped(int32(80877102), int32(1), new Array(257).fill(1)),
      "CancelRequest: secret key of 257 bytes is outside 4..256",
    ],
    [
      "CancelRequest without a process id",
      untyped(int32(80877102), [1, 2]),
      /CancelRequest: expected an int32/,
    ],
    [
      "SSLRequest with extra bytes",
      untyped(int32(80877103), [0]),
      "startup packet: 1 unexpected trailing bytes",
    ],
    ["GSSENCRequest with extra bytes", untyped(int32(80877104), int32(0)), /trailing bytes/],
    [
      "unknown 1234.x request code",
      untyped(int32(80877105)),
      "startup packet: unknown request code 1234.5681",
    ],
    [
      "protocol version 2.0",
      untyped(int32(0x20000), cstr("user"), cstr("a"), [0]),
      "startup packet: unsupported protocol version 2.0",
    ],
    [
      "duplicate parameter",
      startupMessage([
        ["user", "alice"],
        ["user", "postgres"],
      ]),
      'StartupMessage: parameter "user" appears twice',
    ],
    [
      "missing final terminator",
      untyped(int32(196608), cstr("user"), cstr("alice")),
      /parameter name is missing its NUL terminator/,
    ],
    [
      "value without NUL",
      untyped(int32(196608), cstr("user"), [0x61]),
      /value of parameter "user" is missing its NUL terminator/,
    ],
    ["version only", untyped(int32(196608)), /parameter name is missing its NUL terminator/],
    [
      "bytes after the terminator",
      untyped(int32(196608), cstr("user"), cstr("a"), [0, 0x41]),
      /1 unexpected trailing bytes/,
    ],
    [
      "invalid UTF-8 in a value",
      untyped(int32(196608), cstr("user"), rawCstr([0xc3, 0x28]), [0]),
      /value of parameter "user" is not valid UTF-8/,
    ],
    [
      "invalid UTF-8 in a name",
      untyped(int32(196608), rawCstr([0xff]), cstr("x"), [0]),
      /parameter name is not valid UTF-8/,
    ],
  ];

  it.each(violations)("%s is a ProtocolViolation", (_name, bytes, reason) => {
    expectViolationAtEverySplit(bytes, reason, true);
  });
});
