/**
 * Property tests of the row codec and column definitions: any bytes either decode or fail with a protocol
 * violation (never another exception, never a read past the payload), and a row rebuilt with nothing replaced
 * is the row it came from.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COLUMN_TYPE, decodeColumnDefinition } from "../../../src/protocols/mysql/column-definition.js";
import { MysqlProtocolViolation } from "../../../src/protocols/mysql/packet-reader.js";
import {
  locateBinaryRow,
  locateTextRow,
  rebuildBinaryRow,
  rebuildTextRow,
} from "../../../src/protocols/mysql/result-rows.js";

const decodesOrViolates = (decode: () => void) => {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(MysqlProtocolViolation);
  }
};

const TYPES = Object.values(COLUMN_TYPE);

describe("row codec on arbitrary bytes", () => {
  it("text rows, binary rows and column definitions decode or fail with a protocol violation", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.array(fc.constantFrom(...TYPES), { minLength: 1, maxLength: 6 }),
        (bytes, types) => {
          const payload = Buffer.from(bytes);
          const spans: number[] = [];
          decodesOrViolates(() => locateTextRow(payload, types.length, spans));
          decodesOrViolates(() => locateBinaryRow(payload, types, spans));
          decodesOrViolates(() => decodeColumnDefinition(payload));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("a text row rebuilt with nothing replaced is the same row", () => {
    const value = fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null });
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), (values) => {
        const row = Buffer.concat(
          values.map((v) => {
            if (v === null) return Buffer.from([0xfb]);
            const b = Buffer.from(v);
            return Buffer.concat([
              b.length < 251 ? Buffer.from([b.length]) : Buffer.from([0xfc, b.length & 0xff, b.length >> 8]),
              b,
            ]);
          }),
        );
        const spans: number[] = [];
        locateTextRow(row, values.length, spans);
        expect(rebuildTextRow(row, values.length, spans, []).equals(row)).toBe(true);
      }),
    );
  });

  it("a binary row rebuilt with nothing replaced is the same row; a NULL replacement sets its bit", () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.string({ maxLength: 40 }), { nil: null }), { minLength: 1, maxLength: 12 }),
        (values) => {
          const types = values.map(() => COLUMN_TYPE.VAR_STRING);
          const bitmap = Buffer.alloc((values.length + 9) >> 3);
          const parts: Buffer[] = [];
          values.forEach((v, i) => {
            if (v === null) bitmap[(i + 2) >> 3]! |= 1 << ((i + 2) & 7);
            else parts.push(Buffer.concat([Buffer.from([Buffer.byteLength(v)]), Buffer.from(v)]));
          });
          const row = Buffer.concat([Buffer.from([0]), bitmap, ...parts]);
          const spans: number[] = [];
          locateBinaryRow(row, types, spans);
          expect(rebuildBinaryRow(row, types, spans, []).equals(row)).toBe(true);
          const nulled = rebuildBinaryRow(
            row,
            types,
            spans,
            values.map(() => null),
          );
          const again: number[] = [];
          locateBinaryRow(nulled, types, again);
          for (let i = 0; i < values.length; i++) expect(again[3 * i]).toBe(-1);
        },
      ),
    );
  });
});
