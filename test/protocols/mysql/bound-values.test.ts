/** COM_STMT_EXECUTE parameters read for the record: previews (masked) and digests, types remembered. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PreparedParameters } from "../../../src/protocols/mysql/bound-values.js";

/** A naive COM_STMT_EXECUTE: stmt id, no cursor, iteration 1, null bitmap, types (when sent), values. */
function execute(id: number, nulls: number[], types: number[] | undefined, values: Buffer[]): Buffer {
  const head = Buffer.alloc(10);
  head[0] = 0x17;
  head.writeUInt32LE(id, 1);
  head.writeUInt32LE(1, 6);
  const count = Math.max(nulls.length, types ? types.length / 2 : 0);
  const bitmap = Buffer.alloc((count + 7) >> 3);
  nulls.forEach((isNull, i) => {
    if (isNull) bitmap[i >> 3]! |= 1 << (i & 7);
  });
  const bound =
    types === undefined ? Buffer.from([0]) : Buffer.concat([Buffer.from([1]), Buffer.from(types)]);
  return Buffer.concat([head, bitmap, bound, ...values]);
}

const str = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
const int64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(n);
  return b;
};

describe("PreparedParameters", () => {
  it("renders strings, integers and NULL, masks previews and digests type + bytes", () => {
    const parameters = new PreparedParameters((text) => text.replace(/\d{3}-\d{2}-(\d{4})/, "***-**-$1"));
    parameters.prepared(5, 3);
    const bound = parameters.read(
      execute(5, [0, 0, 1], [253, 0, 8, 0, 253, 0], [str("123-45-6789"), int64(42n)]),
    );
    expect(bound.previews).toEqual(["***-**-6789", "42", null]);
    const digest = createHash("sha256")
      .update(Buffer.from([253, 0]))
      .update("123-45-6789")
      .digest("hex");
    expect(bound.digests[0]).toBe(digest);
    expect(bound.digests[2]).toBeNull();
    // Types are not re-sent on later executes of the same statement.
    const again = parameters.read(execute(5, [0, 0, 0], undefined, [str("x"), int64(-1n), str("y")]));
    expect(again.previews).toEqual(["x", "-1", "y"]);
  });

  it("cuts previews at 256 characters but digests the whole value", () => {
    const parameters = new PreparedParameters();
    parameters.prepared(1, 1);
    const long = "z".repeat(300);
    const value = Buffer.concat([Buffer.from([0xfc, 300 & 0xff, 300 >> 8]), Buffer.from(long)]);
    const bound = parameters.read(execute(1, [0], [252, 0], [value]));
    expect(bound.previews[0]).toBe(`${"z".repeat(256)}…`);
    expect(bound.digests[0]).toBe(
      createHash("sha256")
        .update(Buffer.from([252, 0]))
        .update(long)
        .digest("hex"),
    );
  });

  it("masks a value that straddles the 256-character cut before cutting it", () => {
    const card = /\b4111 1111 1111 1111\b/g;
    const parameters = new PreparedParameters((text) => text.replace(card, "[card]"));
    parameters.prepared(3, 1);
    const text = `${"a".repeat(250)} 4111 1111 1111 1111 and more`;
    const value = Buffer.concat([
      Buffer.from([0xfc, text.length & 0xff, text.length >> 8]),
      Buffer.from(text),
    ]);
    const [preview] = parameters.read(execute(3, [0], [252, 0], [value])).previews;
    // Cut first, "4111 1" would have been kept: too few digits for the detector, yet a prefix of the card.
    expect(preview).toBe(`${`${"a".repeat(250)} [card]`.slice(0, 256)}…`);
    expect(preview).not.toContain("4111");
  });

  it("refuses an execute it cannot read: unknown statement, missing types, truncated values", () => {
    const parameters = new PreparedParameters();
    expect(() => parameters.read(execute(9, [0], [253, 0], [str("a")]))).toThrow(/unknown statement/);
    parameters.prepared(2, 1);
    expect(() => parameters.read(execute(2, [0], undefined, [str("a")]))).toThrow(/without parameter types/);
    expect(() => parameters.read(execute(2, [0], [8, 0], [Buffer.from([1, 2])]))).toThrow(/truncated/);
    parameters.closed(2);
    expect(() => parameters.read(execute(2, [0], [253, 0], [str("a")]))).toThrow(/unknown statement/);
  });
});
