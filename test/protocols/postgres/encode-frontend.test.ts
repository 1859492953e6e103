import { describe, expect, it } from "vitest";
import { decodeFrontend, decodeStartupPhase } from "../../../src/protocols/postgres/decode-frontend.js";
import {
  encodeCancelRequest,
  encodeFlush,
  encodeFrontend,
  encodePasswordMessage,
  encodeQuery,
  encodeSASLInitialResponse,
  encodeSASLResponse,
  encodeSSLRequest,
  encodeStartupMessage,
  encodeSync,
  encodeTerminate,
} from "../../../src/protocols/postgres/encode-frontend.js";
import { FrameReader } from "../../../src/protocols/postgres/frame-reader.js";
import { UnencodableValue } from "../../../src/protocols/postgres/message-writer.js";
import type { FrontendMessage } from "../../../src/protocols/postgres/messages.js";
import {
  bind,
  cstr,
  int16,
  int32,
  startupMessage,
  toBuffer,
  typed,
  untyped,
} from "../../support/naive-pg-bytes.js";

function hex(buffer: Buffer): string {
  return buffer.toString("hex");
}

function decodeOne(bytes: Buffer, startup = false) {
  const reader = new FrameReader({ maxFrameBytes: 1 << 20, startup });
  reader.push(bytes);
  const frame = reader.next();
  expect(frame).toBeDefined();
  expect(reader.buffered).toBe(0);
  return startup ? decodeStartupPhase(frame!) : decodeFrontend(frame!);
}

describe("frontend encoders produce the documented bytes", () => {
  it.each([
    [
      "StartupMessage",
      () => encodeStartupMessage({ user: "alice", database: "prod" }),
      startupMessage([
        ["user", "alice"],
        ["database", "prod"],
      ]),
    ],
    [
      "StartupMessage 3.2",
      () => encodeStartupMessage({ user: "é" }, 196610),
      startupMessage([["user", "é"]], 196610),
    ],
    ["SSLRequest", () => encodeSSLRequest(), untyped(int32(80877103))],
    [
      "CancelRequest",
      () => encodeCancelRequest(99, Buffer.from([1, 2, 3, 4])),
      untyped(int32(80877102), int32(99), [1, 2, 3, 4]),
    ],
    ["PasswordMessage", () => encodePasswordMessage("s3cr✓t"), typed("p", cstr("s3cr✓t"))],
    [
      "SASLInitialResponse",
      () => encodeSASLInitialResponse("SCRAM-SHA-256", Buffer.from("n,,n=,r=abc")),
      typed(
        "p",
        cstr("SCRAM-SHA-256"),
        int32(11),
        [..."n,,n=,r=abc"].map((c) => c.charCodeAt(0)),
      ),
    ],
    ["SASLResponse", () => encodeSASLResponse(Buffer.from([0x63, 0x3d])), typed("p", [0x63, 0x3d])],
    ["Query", () => encodeQuery("SELECT 'ü'"), typed("Q", cstr("SELECT 'ü'"))],
    ["Sync", () => encodeSync(), typed("S")],
    ["Flush", () => encodeFlush(), typed("H")],
    ["Terminate", () => encodeTerminate(), typed("X")],
  ])("%s", (_name, encode, expected) => {
    expect(hex(encode())).toBe(hex(toBuffer(expected)));
  });

  it("encodes Bind as the naive builder does", () => {
    const message: FrontendMessage = {
      kind: "Bind",
      portal: "p",
      statement: "s",
      paramFormats: [0, 1],
      params: [Buffer.from("42"), null],
      resultFormats: [1],
    };
    const expected = bind({
      portal: "p",
      statement: "s",
      paramFormats: [0, 1],
      params: [[0x34, 0x32], null],
      resultFormats: [1],
    });
    expect(hex(encodeFrontend(message))).toBe(hex(toBuffer(expected)));
  });

  it("builds messages without a body once", () => {
    expect(encodeSync()).toBe(encodeSync());
    expect(encodeFrontend({ kind: "Sync" })).toBe(encodeSync());
    expect(encodeSSLRequest()).toBe(encodeSSLRequest());
  });

  it("round-trips startup-phase messages through decodeStartupPhase", () => {
    expect(decodeOne(encodeStartupMessage({ user: "u", database: "d", options: "-c x=1" }), true)).toEqual({
      kind: "StartupMessage",
      protocolVersion: 196608,
      parameters: new Map([
        ["user", "u"],
        ["database", "d"],
        ["options", "-c x=1"],
      ]),
    });
    expect(decodeOne(encodeSSLRequest(), true)).toEqual({ kind: "SSLRequest" });
    const key = Buffer.alloc(32, 7);
    expect(decodeOne(encodeCancelRequest(-1, key), true)).toEqual({
      kind: "CancelRequest",
      processId: -1,
      secretKey: key,
    });
  });
});

describe("encodeFrontend round-trips every encodable kind", () => {
  const messages: FrontendMessage[] = [
    { kind: "Query", sql: "SELECT 1; SELECT '✓'" },
    { kind: "Parse", name: "s1", sql: "SELECT $1::int", paramTypes: [23, 0, 4294967295] },
    { kind: "Parse", name: "", sql: "", paramTypes: [] },
    {
      kind: "Bind",
      portal: "",
      statement: "s1",
      paramFormats: [1],
      params: [Buffer.from([0, 0, 0, 1]), null, Buffer.alloc(0)],
      resultFormats: [0, 1, 1],
    },
    { kind: "Bind", portal: "p", statement: "", paramFormats: [], params: [], resultFormats: [] },
    { kind: "Describe", target: "S", name: "s1" },
    { kind: "Describe", target: "P", name: "" },
    { kind: "Execute", portal: "p", maxRows: 50 },
    { kind: "Execute", portal: "", maxRows: -1 },
    { kind: "Close", target: "P", name: "p" },
    { kind: "Close", target: "S", name: "" },
    { kind: "Sync" },
    { kind: "Flush" },
    { kind: "Terminate" },
    { kind: "CopyData", data: Buffer.from([0, 1, 2, 255]) },
    { kind: "CopyDone" },
    { kind: "CopyFail", message: "client gave up" },
    { kind: "PasswordMessage", data: Buffer.from("token\0") },
  ];

  it.each(messages.map((m) => [m.kind, m] as const))("%s", (_kind, message) => {
    expect(decodeOne(encodeFrontend(message))).toEqual(message);
  });

  it("covers every FrontendMessage kind except the two that cannot be encoded", () => {
    const kinds = new Set(messages.map((m) => m.kind));
    kinds.add("FunctionCall").add("Unknown");
    // Keep in step with messages.ts: a new kind must be added to the list above.
    expect([...kinds].sort()).toEqual(
      [
        "Bind",
        "Close",
        "CopyData",
        "CopyDone",
        "CopyFail",
        "Describe",
        "Execute",
        "Flush",
        "FunctionCall",
        "Parse",
        "PasswordMessage",
        "Query",
        "Sync",
        "Terminate",
        "Unknown",
      ].sort(),
    );
  });

  it("grows past the writer's first allocation for large messages", () => {
    const sql = `SELECT '${"x".repeat(100_000)}'`;
    expect(decodeOne(encodeFrontend({ kind: "Query", sql }))).toEqual({ kind: "Query", sql });
    const big = Buffer.alloc(70_000, 3);
    const message: FrontendMessage = {
      kind: "Bind",
      portal: "",
      statement: "",
      paramFormats: [],
      params: [big, big],
      resultFormats: [],
    };
    expect(decodeOne(encodeFrontend(message))).toEqual(message);
  });
});

describe("frontend encoders refuse what the wire cannot carry", () => {
  it.each([
    ["NUL in query text", () => encodeQuery("SELECT 1\0; DROP TABLE t")],
    [
      "NUL in a Parse statement",
      () => encodeFrontend({ kind: "Parse", name: "", sql: "a\0b", paramTypes: [] }),
    ],
    ["NUL in a statement name", () => encodeFrontend({ kind: "Describe", target: "S", name: "s\0" })],
    ["NUL in a password", () => encodePasswordMessage("pa\0ss")],
    ["NUL in a startup value", () => encodeStartupMessage({ user: "a\0b" })],
    ["NUL in a startup name", () => encodeStartupMessage({ "us\0er": "a" })],
    ["an empty startup name", () => encodeStartupMessage({ "": "x" })],
    ["NUL in a SASL mechanism", () => encodeSASLInitialResponse("SCRAM\0", Buffer.alloc(0))],
    ["NUL in CopyFail", () => encodeFrontend({ kind: "CopyFail", message: "\0" })],
    ["a 3-byte cancel key", () => encodeCancelRequest(1, Buffer.alloc(3))],
    ["a 257-byte cancel key", () => encodeCancelRequest(1, Buffer.alloc(257))],
    ["a process id beyond int32", () => encodeCancelRequest(2 ** 31, Buffer.alloc(4))],
    [
      "Bind with 2 formats for 3 parameters",
      () =>
        encodeFrontend({
          kind: "Bind",
          portal: "",
          statement: "",
          paramFormats: [0, 1],
          params: [null, null, null],
          resultFormats: [],
        }),
    ],
    [
      "Bind with format code 2",
      () =>
        encodeFrontend({
          kind: "Bind",
          portal: "",
          statement: "",
          paramFormats: [],
          params: [],
          resultFormats: [2],
        }),
    ],
    [
      "Parse with 65536 parameter types",
      () => encodeFrontend({ kind: "Parse", name: "", sql: "", paramTypes: new Array(65536).fill(0) }),
    ],
    [
      "Parse with a negative OID",
      () => encodeFrontend({ kind: "Parse", name: "", sql: "", paramTypes: [-1] }),
    ],
    [
      "Execute with a fractional row count",
      () => encodeFrontend({ kind: "Execute", portal: "", maxRows: 1.5 }),
    ],
    ["FunctionCall", () => encodeFrontend({ kind: "FunctionCall" })],
    ["Unknown", () => encodeFrontend({ kind: "Unknown", type: 0x7a })],
  ])("%s", (_name, encode) => {
    expect(encode).toThrow(UnencodableValue);
  });

  it("encodes 65535 parameter types, the most the protocol allows", () => {
    const paramTypes = new Array(65535).fill(25);
    const encoded = encodeFrontend({ kind: "Parse", name: "", sql: "", paramTypes });
    expect(encoded.subarray(0, 5)).toEqual(toBuffer(["P".charCodeAt(0), ...int32(4 + 2 + 2 + 65535 * 4)]));
    expect(encoded.subarray(7, 9)).toEqual(toBuffer(int16(65535)));
  });
});
