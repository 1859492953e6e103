/**
 * The values a client binds to a prepared statement in COM_STMT_EXECUTE, read for the record the way the
 * PostgreSQL path records Bind parameters: a text preview of each value (cut at 256 characters, and passed
 * through the connection's content detectors when it masks), and the SHA-256 of each full value (type and
 * bytes), which approvals bind to. Parameter types are sent with the first execute and may be omitted after
 * (new_params_bound_flag 0), so they are remembered per statement.
 * The digests are computed when first read, as on PostgreSQL (batch-examiner.ts): only an approval's binding
 * reads them, and one SHA-256 costs ~29k instructions, more than the rest of reading an execute.
 */
import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import { COLUMN_TYPE } from "./column-definition.js";
import { MysqlProtocolViolation } from "./packet-reader.js";
import { PayloadCursor } from "./payload-cursor.js";

const MAX_PREVIEW = 256;
/** Characters past the cut the detectors still read, so a value straddling the cut is masked, not half-kept. */
const MASK_LOOKAHEAD = 64;
const UNSIGNED = 0x80;
/**
 * Values bound up to this many bytes in all are digested when first asked for (their views into the client's
 * command are kept until then); a larger execute is digested at once, so an operation never holds more than
 * this of the client's bytes for its digests.
 */
const LAZY_DIGEST_BYTES = 4096;

export interface BoundValues {
  readonly previews: (string | null)[];
  /** Hex SHA-256 of type and bytes of each value (null for NULL), computed on first read. */
  readonly digests: (string | null)[];
}

/** One execute's values and their digests: the digests computed once, when first read (or at once when large). */
class ReadValues implements BoundValues {
  private computed: (string | null)[] | undefined;

  constructor(
    readonly previews: (string | null)[],
    /** Views into the execute's payload (never written again: packet-reader.ts); null for NULL. */
    private values: (Buffer | null)[] | undefined,
    /** Two bytes per parameter, as the execute that sent them had them (replaced, never written, later). */
    private readonly types: Buffer,
    bytes: number,
  ) {
    if (bytes > LAZY_DIGEST_BYTES) this.computed = this.digest();
  }

  get digests(): (string | null)[] {
    this.computed ??= this.digest();
    return this.computed;
  }

  private digest(): (string | null)[] {
    const values = this.values!;
    this.values = undefined;
    const types = this.types;
    return values.map((value, i) =>
      value === null
        ? null
        : createHash("sha256")
            .update(types.subarray(2 * i, 2 * i + 2))
            .update(value)
            .digest("hex"),
    );
  }
}

interface StatementParameters {
  readonly count: number;
  /** Two bytes per parameter (type, flags), from the last execute that sent them. */
  types: Buffer | undefined;
}

export class PreparedParameters {
  private readonly statements = new Map<number, StatementParameters>();

  constructor(private readonly maskPreview: (text: string) => string = (text) => text) {}

  prepared(statementId: number, count: number): void {
    this.statements.set(statementId, { count, types: undefined });
  }

  closed(statementId: number): void {
    this.statements.delete(statementId);
  }

  clear(): void {
    this.statements.clear();
  }

  /**
   * The values of one COM_STMT_EXECUTE payload (command byte included). Throws a protocol violation when the
   * payload does not hold what the statement takes: the execute is then refused, never relayed unread.
   */
  read(payload: Buffer): BoundValues {
    const c = new PayloadCursor(payload, "COM_STMT_EXECUTE");
    c.u8();
    const statement = this.statements.get(c.u32());
    if (statement === undefined) throw new MysqlProtocolViolation("COM_STMT_EXECUTE of an unknown statement");
    c.u8(); // flags (cursor type: refused by the session when not 0)
    c.u32(); // iteration count
    const count = statement.count;
    if (count === 0) return { previews: [], digests: [] };
    const previews: (string | null)[] = [];
    const values: (Buffer | null)[] = [];
    let bytes = 0;
    const nulls = c.bytes((count + 7) >> 3);
    if (c.u8() === 1) statement.types = Buffer.from(c.bytes(2 * count));
    const types = statement.types;
    if (types === undefined) throw new MysqlProtocolViolation("COM_STMT_EXECUTE without parameter types");
    for (let i = 0; i < count; i++) {
      if ((nulls[i >> 3]! & (1 << (i & 7))) !== 0) {
        previews.push(null);
        values.push(null);
        continue;
      }
      const type = types[2 * i]!;
      const unsigned = (types[2 * i + 1]! & UNSIGNED) !== 0;
      const value = readValue(c, type);
      const text = renderValue(value, type, unsigned);
      // Masked before the cut (with a look-ahead), as on PostgreSQL: cut first, a detector could see too few digits.
      const masked = this.maskPreview(text.slice(0, MAX_PREVIEW + MASK_LOOKAHEAD));
      const cut = text.length > MAX_PREVIEW || masked.length > MAX_PREVIEW;
      previews.push(cut ? `${masked.slice(0, MAX_PREVIEW)}…` : masked);
      values.push(value);
      bytes += value.length;
    }
    return new ReadValues(previews, values, types, bytes);
  }
}

const FIXED_WIDTH = new Map<number, number>([
  [COLUMN_TYPE.TINY, 1],
  [COLUMN_TYPE.SHORT, 2],
  [COLUMN_TYPE.YEAR, 2],
  [COLUMN_TYPE.LONG, 4],
  [COLUMN_TYPE.INT24, 4],
  [COLUMN_TYPE.FLOAT, 4],
  [COLUMN_TYPE.LONGLONG, 8],
  [COLUMN_TYPE.DOUBLE, 8],
]);

const BYTE_LENGTH = new Set<number>([
  COLUMN_TYPE.DATE,
  COLUMN_TYPE.DATETIME,
  COLUMN_TYPE.TIMESTAMP,
  COLUMN_TYPE.TIME,
]);

function readValue(c: PayloadCursor, type: number): Buffer {
  const width = FIXED_WIDTH.get(type);
  if (width !== undefined) return c.bytes(width);
  if (BYTE_LENGTH.has(type)) return c.bytes(c.u8());
  if (type === COLUMN_TYPE.NULL) return Buffer.alloc(0);
  const value = c.lenencBytes();
  if (value === null) throw new MysqlProtocolViolation("COM_STMT_EXECUTE: a parameter without a length");
  return value;
}

function renderValue(value: Buffer, type: number, unsigned: boolean): string {
  switch (type) {
    case COLUMN_TYPE.TINY:
      return String(unsigned ? value.readUInt8(0) : value.readInt8(0));
    case COLUMN_TYPE.SHORT:
    case COLUMN_TYPE.YEAR:
      return String(unsigned ? value.readUInt16LE(0) : value.readInt16LE(0));
    case COLUMN_TYPE.LONG:
    case COLUMN_TYPE.INT24:
      return String(unsigned ? value.readUInt32LE(0) : value.readInt32LE(0));
    case COLUMN_TYPE.LONGLONG:
      return String(unsigned ? value.readBigUInt64LE(0) : value.readBigInt64LE(0));
    case COLUMN_TYPE.FLOAT:
      return String(value.readFloatLE(0));
    case COLUMN_TYPE.DOUBLE:
      return String(value.readDoubleLE(0));
    case COLUMN_TYPE.DATE:
    case COLUMN_TYPE.DATETIME:
    case COLUMN_TYPE.TIMESTAMP:
      return renderDateTime(value);
    case COLUMN_TYPE.TIME:
      return `\\x${value.toString("hex")}`;
    default: {
      // Bytes that are not UTF-8 (a BLOB) are shown as hex, as PostgreSQL's binary parameters are.
      return isUtf8(value) ? value.toString("utf8") : `\\x${value.toString("hex")}`;
    }
  }
}

function renderDateTime(value: Buffer): string {
  if (value.length < 4) return "0000-00-00";
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const date = `${pad(value.readUInt16LE(0), 4)}-${pad(value[2]!)}-${pad(value[3]!)}`;
  if (value.length < 7) return date;
  const time = `${pad(value[4]!)}:${pad(value[5]!)}:${pad(value[6]!)}`;
  return value.length < 11 ? `${date} ${time}` : `${date} ${time}.${pad(value.readUInt32LE(7), 6)}`;
}
