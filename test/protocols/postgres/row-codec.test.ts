import { describe, expect, it } from "vitest";
import { ProtocolViolation } from "../../../src/protocols/postgres/frame-reader.js";
import {
  decodeCopyOutResponse,
  decodeDataRow,
  decodeNotificationResponse,
  decodeResponseFields,
  decodeRowDescription,
  encodeCopyData,
  encodeCopyOutResponse,
  encodeDataRowValues,
  encodeNotificationResponse,
  encodeResponseFields,
  encodeRowDescriptionFields,
} from "../../../src/protocols/postgres/row-codec.js";
import { cstr, int16, int32, typed, utf8 } from "../../support/naive-pg-bytes.js";
import { cut, feed, splitPoints } from "./split-feed.js";

const OPTIONS = { maxFrameBytes: 1 << 20, startup: false };

function field(name: string, table: number, attr: number, type: number, format: number): number[] {
  return [
    ...cstr(name),
    ...int32(table),
    ...int16(attr),
    ...int32(type),
    ...int16(-1),
    ...int32(-1),
    ...int16(format),
  ];
}

function value(text: string | null): number[] {
  if (text === null) return int32(-1);
  const bytes = utf8(text);
  return [...int32(bytes.length), ...bytes];
}

const ROW_DESCRIPTION = Buffer.from(
  typed(
    "T",
    int16(3),
    field("ssn", 16384, 3, 25, 0),
    field("x", 0, 0, 23, 1),
    field("é", 4294967295, -1, 1043, 0),
  ),
);
const DATA_ROW = Buffer.from(typed("D", int16(3), value("123-45-6789"), value(null), value("")));
const COPY_OUT = Buffer.from(typed("H", [1], int16(2), int16(1), int16(1)));
const NOTIFICATION = Buffer.from(typed("A", int32(42), cstr("chan"), cstr("payload 123-45-6789")));
const ERROR = Buffer.from(
  typed("E", [0x53], cstr("ERROR"), [0x43], cstr("22P02"), [0x4d], cstr('bad "x"'), [0]),
);

function decodeAny(frame: { type: number; body: Buffer }): unknown {
  switch (String.fromCharCode(frame.type)) {
    case "T":
      return decodeRowDescription(frame.body);
    case "D":
      return decodeDataRow(frame.body);
    case "H":
      return decodeCopyOutResponse(frame.body);
    case "A":
      return decodeNotificationResponse(frame.body);
    case "E":
      return decodeResponseFields(frame.body, "ErrorResponse");
    default:
      return frame.body;
  }
}

describe("row codec", () => {
  const stream = Buffer.concat([ROW_DESCRIPTION, DATA_ROW, COPY_OUT, NOTIFICATION, ERROR]);
  const whole = feed([stream], OPTIONS, decodeAny).results;

  it("decodes every message as the naive builder wrote it", () => {
    expect(whole[0]).toEqual([
      {
        name: "ssn",
        tableOid: 16384,
        attributeNumber: 3,
        typeOid: 25,
        typeSize: -1,
        typeModifier: -1,
        format: 0,
      },
      { name: "x", tableOid: 0, attributeNumber: 0, typeOid: 23, typeSize: -1, typeModifier: -1, format: 1 },
      {
        name: "é",
        tableOid: 4294967295,
        attributeNumber: -1,
        typeOid: 1043,
        typeSize: -1,
        typeModifier: -1,
        format: 0,
      },
    ]);
    expect(whole[1]).toEqual([Buffer.from("123-45-6789"), null, Buffer.alloc(0)]);
    expect(whole[2]).toEqual({ format: 1, columnFormats: [1, 1] });
    expect(whole[3]).toEqual({ processId: 42, channel: "chan", payload: "payload 123-45-6789" });
    expect(whole[4]).toEqual([
      { code: 0x53, value: "ERROR" },
      { code: 0x43, value: "22P02" },
      { code: 0x4d, value: 'bad "x"' },
    ]);
  });

  it("decodes the same at every split of the stream", () => {
    for (const points of splitPoints(stream.length, 0)) {
      expect(feed(cut(stream, points), OPTIONS, decodeAny).results).toEqual(whole);
    }
  });

  it("re-encodes byte for byte what the naive builder wrote", () => {
    expect(encodeRowDescriptionFields(decodeRowDescription(ROW_DESCRIPTION.subarray(5)))).toEqual(
      ROW_DESCRIPTION,
    );
    expect(encodeDataRowValues(decodeDataRow(DATA_ROW.subarray(5)))).toEqual(DATA_ROW);
    expect(encodeCopyOutResponse(decodeCopyOutResponse(COPY_OUT.subarray(5)))).toEqual(COPY_OUT);
    expect(encodeNotificationResponse(decodeNotificationResponse(NOTIFICATION.subarray(5)))).toEqual(
      NOTIFICATION,
    );
    expect(encodeResponseFields(0x45, decodeResponseFields(ERROR.subarray(5), "E"))).toEqual(ERROR);
    expect(encodeCopyData(Buffer.from("a\tb\n"))).toEqual(Buffer.from(typed("d", utf8("a\tb\n"))));
  });

  it.each([
    [
      "a DataRow whose count exceeds the body",
      () => decodeDataRow(Buffer.from([...int16(1000), ...int32(-1)])),
    ],
    [
      "a DataRow value overrunning the body",
      () => decodeDataRow(Buffer.from([...int16(1), ...int32(9), 1, 2])),
    ],
    ["a DataRow length below -1", () => decodeDataRow(Buffer.from([...int16(1), ...int32(-2)]))],
    ["a DataRow with trailing bytes", () => decodeDataRow(Buffer.from([...int16(1), ...int32(-1), 7]))],
    ["a DataRow without a count", () => decodeDataRow(Buffer.from([0]))],
    [
      "a RowDescription count over the body",
      () => decodeRowDescription(Buffer.from([...int16(500), ...field("a", 0, 0, 25, 0)])),
    ],
    [
      "a RowDescription with format 7",
      () => decodeRowDescription(Buffer.from([...int16(1), ...field("a", 0, 0, 25, 7)])),
    ],
    [
      "a RowDescription with trailing bytes",
      () => decodeRowDescription(Buffer.from([...int16(1), ...field("a", 0, 0, 25, 0), 1])),
    ],
    [
      "a CopyOutResponse with a wrong count",
      () => decodeCopyOutResponse(Buffer.from([0, ...int16(3), ...int16(0)])),
    ],
    [
      "a NotificationResponse without NUL",
      () => decodeNotificationResponse(Buffer.from([...int32(1), 0x61])),
    ],
    [
      "an ErrorResponse without the terminator",
      () => decodeResponseFields(Buffer.from([0x4d, ...cstr("x")]), "E"),
    ],
  ])("refuses %s", (_name, decode) => {
    expect(decode).toThrow(ProtocolViolation);
  });
});
