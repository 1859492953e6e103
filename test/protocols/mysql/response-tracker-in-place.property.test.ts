/**
 * The response tracker reads every packet in place in the reader's bytes (a cursor window, no view and no
 * decoded packet object): held to a reference kept apart that reads each payload from a copy of its own with
 * the old decoders (decodeOk, decodeEof, decodeErr, a whole-payload cursor), on arbitrary payload sequences laid
 * between unrelated bytes; the window readers against the same decoders on truncated and padded packets; and
 * sysbench's point-select answer through the unchanged relay cut at every byte offset.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CAPABILITY, GATEWAY_CAPABILITIES } from "../../../src/protocols/mysql/capabilities.js";
import { MysqlProtocolViolation, PacketReader } from "../../../src/protocols/mysql/packet-reader.js";
import { PayloadCursor } from "../../../src/protocols/mysql/payload-cursor.js";
import {
  decodeEof,
  decodeErr,
  decodeOk,
  eofStatusOf,
  okStatusOf,
  readOkCounts,
  SERVER_STATUS,
} from "../../../src/protocols/mysql/response-packets.js";
import { type ResponseSummary, ResponseTracker } from "../../../src/protocols/mysql/response-tracker.js";
import { naivePacket } from "../../support/naive-mysql-bytes.js";

/** The tracker's state machine as it was before it read in place: one decoded copy per payload. */
class ReferenceTracker {
  private state: "first" | "columns" | "columnsEof" | "rows" = "first";
  kind = "ok";
  private columnsLeft = 0;
  private rows = 0;
  private affectedRows = 0;
  constructor(private readonly deprecateEof: boolean) {}

  push(view: Buffer): ResponseSummary | undefined {
    const payload = Buffer.from(view);
    const header = payload[0];
    if (this.state === "first") {
      this.kind = header === 0xff ? "err" : header === 0x00 ? "ok" : "column-count";
      if (header === 0x00) {
        const ok = decodeOk(payload);
        this.affectedRows += ok.affectedRows;
        return this.next(ok.status);
      }
      if (header === 0xff) return this.failed(payload);
      if (header === 0xfb)
        throw new MysqlProtocolViolation("the server asked for a LOCAL INFILE, which was not negotiated");
      const count = new PayloadCursor(payload, "column count").lenencInt();
      if (count === null || count === 0) throw new MysqlProtocolViolation("invalid column count");
      this.columnsLeft = count;
      this.state = "columns";
      return undefined;
    }
    if (this.state === "columns") {
      this.kind = "column";
      if (--this.columnsLeft === 0) this.state = this.deprecateEof ? "rows" : "columnsEof";
      return undefined;
    }
    if (this.state === "columnsEof") {
      this.kind = "columns-eof";
      if (header !== 0xfe) throw new MysqlProtocolViolation("expected EOF after the column definitions");
      this.state = "rows";
      return undefined;
    }
    this.kind = header === 0xff ? "err" : "row";
    if (header === 0xff) return this.failed(payload);
    if (header === 0xfe && (this.deprecateEof || payload.length < 9)) {
      this.kind = "end";
      return this.next(this.deprecateEof ? decodeOk(payload).status : decodeEof(payload).status);
    }
    this.rows++;
    return undefined;
  }

  private next(status: number): ResponseSummary | undefined {
    if (status & SERVER_STATUS.MORE_RESULTS_EXISTS) {
      this.state = "first";
      return undefined;
    }
    return { rows: this.rows, affectedRows: this.affectedRows, status };
  }

  private failed(payload: Buffer): ResponseSummary {
    const err = decodeErr(payload);
    const error = { code: String(err.code), message: err.message };
    return { rows: this.rows, affectedRows: this.affectedRows, status: 0, error };
  }
}

type Outcome = { kinds: string[]; summary?: ResponseSummary; error?: string };

function follow(
  push: (payload: Buffer) => ResponseSummary | undefined,
  kind: () => string,
  payloads: Buffer[],
) {
  const outcome: Outcome = { kinds: [] };
  try {
    for (const payload of payloads) {
      const done = push(payload);
      outcome.kinds.push(kind());
      if (done !== undefined) {
        outcome.summary = done;
        break;
      }
    }
  } catch (error) {
    outcome.error = (error as Error).message;
  }
  return outcome;
}

/** OK packets with every length-encoded width, EOFs, ERRs, result headers, rows, truncations, odd bytes. */
const lenenc = fc.oneof(
  fc.integer({ min: 0, max: 0xfa }).map((n) => [n]),
  fc.integer({ min: 0, max: 0xffff }).map((n) => [0xfc, n & 0xff, n >> 8]),
  fc.integer({ min: 0, max: 0xffffff }).map((n) => [0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]),
  fc.bigInt({ min: 0n, max: 1n << 60n }).map((n) => {
    const b = Buffer.alloc(9);
    b[0] = 0xfe;
    b.writeBigUInt64LE(n, 1);
    return [...b];
  }),
  fc.constant([0xfb]),
  fc.constant([0xff]),
);
const okLike = fc
  .tuple(
    fc.constantFrom(0x00, 0xfe),
    lenenc,
    lenenc,
    fc.constantFrom(0x0002, 0x000a, 0x0008, 0x0003),
    fc.uint8Array({ maxLength: 6 }),
    fc.option(fc.nat(), { freq: 3 }),
  )
  .map(([header, affected, insertId, status, info, cut]) => {
    const whole = Buffer.from([header, ...affected, ...insertId, status & 0xff, status >> 8, 0, 0, ...info]);
    // Sometimes cut short anywhere: the window must end where the packet does, not where the bytes do.
    return cut === null ? whole : whole.subarray(0, 1 + (cut % whole.length));
  });
const payload = fc.oneof(
  okLike,
  fc.integer({ min: 1, max: 4 }).map((n) => Buffer.from([n])),
  fc.uint8Array({ minLength: 0, maxLength: 12 }).map((b) => Buffer.from(b)),
  fc.constant(Buffer.from([0xfe, 0x00, 0x00, 0x02, 0x00])),
  fc.constant(Buffer.from([0xfe, 0x00, 0x00])),
  fc.constant(Buffer.from([0xff, 0x15, 0x04, 0x23, 0x34, 0x32, 0x30, 0x30, 0x30, 0x78])),
  fc.constant(Buffer.from([0xfc, 0x02, 0x00])),
  fc.constant(Buffer.from([0xfc, 0x02])),
  fc.constant(Buffer.from([0xfe, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])),
  fc.uint8Array({ minLength: 9, maxLength: 20 }).map((b) => Buffer.from([0xfe, ...b])),
);
/** Bytes around a window: zeros and 0xFF, so a read past the window's end would find plausible values. */
const padding = fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b.map((x) => (x & 1 ? 0xff : 0))));

const attempt = <T>(read: () => T): T | string => {
  try {
    return read();
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
};

describe("response tracker reading in place", () => {
  it("follows any answer as the per-payload decoding did, the packets read inside unrelated bytes", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.tuple(padding, payload), { minLength: 1, maxLength: 12 }),
        padding,
        (deprecateEof, parts, tail) => {
          const capabilities = deprecateEof
            ? GATEWAY_CAPABILITIES
            : GATEWAY_CAPABILITIES & ~CAPABILITY.DEPRECATE_EOF;
          // All payloads in one buffer, each behind its padding: pushAt reads them where they lie.
          const bytes = Buffer.concat([...parts.flat(), tail]);
          const windows: { start: number; length: number }[] = [];
          let at = 0;
          for (const [pad, p] of parts) {
            windows.push({ start: at + pad.length, length: p.length });
            at += pad.length + p.length;
          }
          const reference = new ReferenceTracker(deprecateEof);
          const expected = follow(
            (p) => reference.push(p),
            () => reference.kind,
            parts.map(([, p]) => p),
          );
          const tracker = new ResponseTracker(capabilities);
          let next = 0;
          const inPlace = follow(
            () => {
              const { start, length } = windows[next++]!;
              return tracker.pushAt(bytes, start, length);
            },
            () => tracker.kind,
            parts.map(([, p]) => p),
          );
          expect(inPlace).toEqual(expected);
          const viaPush = new ResponseTracker(capabilities);
          expect(
            follow(
              (p) => viaPush.push(p),
              () => viaPush.kind,
              parts.map(([, p]) => p),
            ),
          ).toEqual(expected);
        },
      ),
      { numRuns: 4000 },
    );
  });

  it("reads an OK's counts and an OK's or EOF's status in a window as the decoders read a copy", () => {
    fc.assert(
      fc.property(padding, okLike, padding, (before, packet, after) => {
        const bytes = Buffer.concat([before, packet, after]);
        const start = before.length;
        const end = start + packet.length;
        const copy = Buffer.from(packet);
        expect(attempt(() => okStatusOf(bytes, start, end))).toEqual(attempt(() => decodeOk(copy).status));
        expect(attempt(() => okStatusOf(bytes, start, end))).toEqual(attempt(() => okStatusOf(copy)));
        const counts = { affectedRows: -1, status: -1 };
        expect(
          attempt(() => {
            readOkCounts(bytes, start, end, counts);
            return { ...counts };
          }),
        ).toEqual(
          attempt(() => {
            const ok = decodeOk(copy);
            return { affectedRows: ok.affectedRows, status: ok.status };
          }),
        );
        expect(eofStatusOf(bytes, start, end)).toBe(decodeEof(copy).status);
        // A cursor window ends at the window: a NUL after it is not the terminator of a string in it.
        const c = new PayloadCursor(bytes, "window", start, end);
        expect(c.remaining).toBe(packet.length);
        expect(attempt(() => c.nulBytes().length)).toEqual(
          attempt(() => new PayloadCursor(copy, "window").nulBytes().length),
        );
      }),
      { numRuns: 3000 },
    );
  });

  it("reads a COM_STMT_PREPARE answer in place as from a copy", () => {
    fc.assert(
      fc.property(
        padding,
        fc.uint8Array({ minLength: 0, maxLength: 14 }).map((b) => Buffer.from(b)),
        fc.boolean(),
        (before, body, ok) => {
          const packet = ok && body.length >= 12 ? Buffer.from([0x00, ...body.subarray(1)]) : body;
          const bytes = Buffer.concat([before, packet, Buffer.from([0, 0, 0, 0])]);
          const inPlace = new ResponseTracker(GATEWAY_CAPABILITIES, "prepare");
          const fromCopy = new ResponseTracker(GATEWAY_CAPABILITIES, "prepare");
          expect(attempt(() => inPlace.pushAt(bytes, before.length, packet.length))).toEqual(
            attempt(() => fromCopy.push(Buffer.from(packet))),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("relays sysbench's point-select answer and an OK unchanged, cut at every byte offset", () => {
    const column = Buffer.concat([
      Buffer.from([3, ...Buffer.from("def"), 1, 0x73, 1, 0x74, 1, 0x74, 1, 0x63, 1, 0x63, 0x0c, 45, 0]),
      Buffer.from([0xe0, 1, 0, 0, 0xfe, 0x01, 0x10, 0, 0, 0]),
    ]);
    const row = Buffer.from([120, ...Buffer.alloc(120, 0x31)]);
    const end = Buffer.from([0xfe, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
    const answers = [
      Buffer.concat([naivePacket(1, [1]), naivePacket(2, column), naivePacket(3, row), naivePacket(4, end)]),
      naivePacket(1, [
        0x00,
        0xfc,
        0x10,
        0x27,
        0x05,
        0x02,
        0x00,
        0x00,
        0x00,
        ...Buffer.from("Rows matched: 10000"),
      ]),
    ];
    for (const answer of answers) {
      const whole = relayed(answer, []);
      expect(whole.summary).toBeDefined();
      expect(whole.bytes.equals(answer)).toBe(true);
      for (let cut = 1; cut < answer.length; cut++)
        for (const second of [cut + 1, answer.length - 1])
          expect(relayed(answer, second > cut && second < answer.length ? [cut, second] : [cut])).toEqual(
            whole,
          );
    }
  });
});

/** The unchanged relay's loop (server-relay.ts: peekPacket, pushAt, skip) over the answer cut at `cuts`. */
function relayed(answer: Buffer, cuts: number[]): { summary?: ResponseSummary; bytes: Buffer } {
  const reader = new PacketReader({ maxMessageBytes: 1 << 20 });
  const tracker = new ResponseTracker(GATEWAY_CAPABILITIES);
  const out: Buffer[] = [];
  let summary: ResponseSummary | undefined;
  let from = 0;
  for (const point of [...cuts, answer.length]) {
    reader.push(answer.subarray(from, point));
    from = point;
    const view = reader.bytes;
    const start = reader.position;
    let at = start;
    for (
      let length = reader.peekPacket();
      length >= 0 && summary === undefined;
      length = reader.peekPacket()
    ) {
      summary = tracker.pushAt(view, at + 4, length);
      at += 4 + length;
      reader.skip(4 + length);
    }
    out.push(Buffer.from(view.subarray(start, at)));
  }
  return { ...(summary && { summary }), bytes: Buffer.concat(out) };
}
