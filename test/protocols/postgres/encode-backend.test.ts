import { describe, expect, it } from "vitest";
import { decodeBackend } from "../../../src/protocols/postgres/decode-backend.js";
import {
  encodeAuthenticationCleartextPassword,
  encodeAuthenticationOk,
  encodeBackendKeyData,
  encodeCommandComplete,
  encodeDataRow,
  encodeEmptyQueryResponse,
  encodeErrorResponse,
  encodeNegotiateProtocolVersion,
  encodeNoticeResponse,
  encodeParameterStatus,
  encodeReadyForQuery,
  encodeRowDescription,
} from "../../../src/protocols/postgres/encode-backend.js";
import { FrameReader } from "../../../src/protocols/postgres/frame-reader.js";
import { UnencodableValue } from "../../../src/protocols/postgres/message-writer.js";
import type { TransactionStatus } from "../../../src/protocols/postgres/messages.js";
import { type Bytes, cstr, int16, int32, toBuffer, typed, utf8 } from "../../support/naive-pg-bytes.js";

function field(code: string, value: string): Bytes {
  return [code.charCodeAt(0), ...cstr(value)];
}

function decodeOne(bytes: Buffer) {
  const reader = new FrameReader({ maxFrameBytes: 1 << 20, startup: false });
  reader.push(bytes);
  const frame = reader.next()!;
  expect(reader.buffered).toBe(0);
  return decodeBackend(frame);
}

describe("backend encoders produce the documented bytes", () => {
  const textColumn = (name: string) => [
    ...cstr(name),
    ...int32(0),
    ...int16(0),
    ...int32(25),
    ...int16(-1),
    ...int32(-1),
    ...int16(0),
  ];

  it.each([
    ["AuthenticationOk", () => encodeAuthenticationOk(), typed("R", int32(0))],
    ["AuthenticationCleartextPassword", () => encodeAuthenticationCleartextPassword(), typed("R", int32(3))],
    [
      "ParameterStatus",
      () => encodeParameterStatus("server_version", "15.4"),
      typed("S", cstr("server_version"), cstr("15.4")),
    ],
    [
      "BackendKeyData",
      () => encodeBackendKeyData(-2, Buffer.from([9, 9, 9, 9])),
      typed("K", int32(-2), [9, 9, 9, 9]),
    ],
    ["ReadyForQuery I", () => encodeReadyForQuery("I"), typed("Z", [0x49])],
    ["ReadyForQuery T", () => encodeReadyForQuery("T"), typed("Z", [0x54])],
    ["ReadyForQuery E", () => encodeReadyForQuery("E"), typed("Z", [0x45])],
    [
      "ErrorResponse",
      () =>
        encodeErrorResponse({ severity: "ERROR", code: "42501", message: "denied", detail: "d", hint: "h" }),
      typed(
        "E",
        field("S", "ERROR"),
        field("V", "ERROR"),
        field("C", "42501"),
        field("M", "denied"),
        field("D", "d"),
        field("H", "h"),
        [0],
      ),
    ],
    [
      "NoticeResponse without detail or hint",
      () => encodeNoticeResponse({ severity: "NOTICE", code: "00000", message: "ñ" }),
      typed("N", field("S", "NOTICE"), field("V", "NOTICE"), field("C", "00000"), field("M", "ñ"), [0]),
    ],
    [
      "NegotiateProtocolVersion",
      () => encodeNegotiateProtocolVersion(0, ["_pq_.x"]),
      typed("v", int32(0), int32(1), cstr("_pq_.x")),
    ],
    ["CommandComplete", () => encodeCommandComplete("SELECT 1"), typed("C", cstr("SELECT 1"))],
    ["EmptyQueryResponse", () => encodeEmptyQueryResponse(), typed("I")],
    [
      "RowDescription",
      () => encodeRowDescription(["a", "bé"]),
      typed("T", int16(2), textColumn("a"), textColumn("bé")),
    ],
    [
      "DataRow",
      () => encodeDataRow(["1", null, "", "a\0b"]),
      typed("D", int16(4), int32(1), utf8("1"), int32(-1), int32(0), int32(3), [0x61, 0, 0x62]),
    ],
  ])("%s", (_name, encode, expected) => {
    expect(encode().toString("hex")).toBe(toBuffer(expected).toString("hex"));
  });

  it("builds messages without a body once", () => {
    expect(encodeAuthenticationOk()).toBe(encodeAuthenticationOk());
    expect(encodeReadyForQuery("I")).toBe(encodeReadyForQuery("I"));
    expect(encodeEmptyQueryResponse()).toBe(encodeEmptyQueryResponse());
  });
});

describe("backend encoders round-trip through decodeBackend", () => {
  it.each([
    [encodeAuthenticationOk(), { kind: "AuthenticationOk" }],
    [encodeAuthenticationCleartextPassword(), { kind: "AuthenticationCleartextPassword" }],
    [encodeParameterStatus("TimeZone", "UTC"), { kind: "ParameterStatus", name: "TimeZone", value: "UTC" }],
    [
      encodeBackendKeyData(12, Buffer.alloc(32, 1)),
      { kind: "BackendKeyData", processId: 12, secretKey: Buffer.alloc(32, 1) },
    ],
    ...(["I", "T", "E"] as TransactionStatus[]).map((status) => [
      encodeReadyForQuery(status),
      { kind: "ReadyForQuery", status },
    ]),
    [
      encodeErrorResponse({ severity: "FATAL", code: "28P01", message: "token rejected", hint: "refresh" }),
      {
        kind: "ErrorResponse",
        fields: { severity: "FATAL", code: "28P01", message: "token rejected", hint: "refresh" },
      },
    ],
    [
      encodeNoticeResponse({ severity: "WARNING", code: "01000", message: "m", detail: "d" }),
      { kind: "NoticeResponse", fields: { severity: "WARNING", code: "01000", message: "m", detail: "d" } },
    ],
    [encodeCommandComplete("UPDATE 3"), { kind: "CommandComplete", tag: "UPDATE 3" }],
    [
      encodeNegotiateProtocolVersion(2, ["_pq_.a", "_pq_.b"]),
      { kind: "NegotiateProtocolVersion", newestMinor: 2, unrecognized: ["_pq_.a", "_pq_.b"] },
    ],
  ] as [Buffer, unknown][])("%#", (bytes, expected) => {
    expect(decodeOne(bytes)).toEqual(expected);
  });
});

describe("backend encoders refuse what the wire cannot carry", () => {
  it.each([
    [
      "NUL in an error message",
      () => encodeErrorResponse({ severity: "ERROR", code: "XX000", message: "a\0b" }),
    ],
    [
      "NUL in an error hint",
      () => encodeErrorResponse({ severity: "ERROR", code: "XX000", message: "m", hint: "\0" }),
    ],
    [
      "NUL in a notice detail",
      () => encodeNoticeResponse({ severity: "NOTICE", code: "0", message: "", detail: "\0" }),
    ],
    ["NUL in a parameter value", () => encodeParameterStatus("a", "b\0")],
    ["NUL in a command tag", () => encodeCommandComplete("SELECT\0")],
    ["NUL in a column name", () => encodeRowDescription(["a\0"])],
    ["NUL in an option name", () => encodeNegotiateProtocolVersion(0, ["\0"])],
    ["a 3-byte secret key", () => encodeBackendKeyData(1, Buffer.alloc(3))],
    ["an unknown transaction status", () => encodeReadyForQuery("X" as TransactionStatus)],
  ])("%s", (_name, encode) => {
    expect(encode).toThrow(UnencodableValue);
  });
});
