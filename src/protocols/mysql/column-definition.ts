/**
 * ColumnDefinition41 packets (the column descriptions of a result set) and the column types of the MySQL
 * protocol: what the masker needs to know to find, judge and rewrite a column's values. Pure.
 */
import { MysqlProtocolViolation } from "./packet-reader.js";
import { PayloadCursor } from "./payload-cursor.js";

export interface ColumnDefinition {
  readonly catalog: string;
  /** The database of the column's table ("" for expressions and some derived tables). */
  readonly schema: string;
  /** The table as the statement named it (an alias). */
  readonly table: string;
  /** The table as the server knows it: the base table, or a view, derived table or CTE name; "" for expressions. */
  readonly orgTable: string;
  readonly name: string;
  readonly orgName: string;
  readonly charset: number;
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly decimals: number;
}

/** enum_field_types (include/field_types.h). */
export const COLUMN_TYPE = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

/**
 * How values of a type behave under masking: `text` can take a masked string in its place; `number` values
 * (integers, floats, decimals) are checked by detectors and become NULL when masked (a masked string would not
 * parse as a number in the driver); `temporal` values cannot carry free data and become NULL under a column
 * rule; `opaque` bytes (BIT, GEOMETRY) are checked and become NULL when masked.
 */
export type TypeCategory = "text" | "json" | "number" | "temporal" | "opaque" | "null";

const T = COLUMN_TYPE;
const CATEGORIES = new Map<number, TypeCategory>([
  [T.VARCHAR, "text"],
  [T.VAR_STRING, "text"],
  [T.STRING, "text"],
  [T.ENUM, "text"],
  [T.SET, "text"],
  [T.TINY_BLOB, "text"],
  [T.MEDIUM_BLOB, "text"],
  [T.LONG_BLOB, "text"],
  [T.BLOB, "text"],
  [T.JSON, "json"],
  [T.DECIMAL, "number"],
  [T.NEWDECIMAL, "number"],
  [T.TINY, "number"],
  [T.SHORT, "number"],
  [T.LONG, "number"],
  [T.INT24, "number"],
  [T.LONGLONG, "number"],
  [T.FLOAT, "number"],
  [T.DOUBLE, "number"],
  [T.YEAR, "number"],
  [T.TIMESTAMP, "temporal"],
  [T.DATE, "temporal"],
  [T.TIME, "temporal"],
  [T.DATETIME, "temporal"],
  [T.NEWDATE, "temporal"],
  [T.TIMESTAMP2, "temporal"],
  [T.DATETIME2, "temporal"],
  [T.TIME2, "temporal"],
  [T.BIT, "opaque"],
  [T.GEOMETRY, "opaque"],
  [T.NULL, "null"],
]);

/** The category of a type; undefined for a type the gateway does not know (the result is withheld). */
export function typeCategory(type: number): TypeCategory | undefined {
  return CATEGORIES.get(type);
}

export function decodeColumnDefinition(payload: Buffer): ColumnDefinition {
  const c = new PayloadCursor(payload, "column definition");
  const catalog = c.lenencString();
  const schema = c.lenencString();
  const table = c.lenencString();
  const orgTable = c.lenencString();
  const name = c.lenencString();
  const orgName = c.lenencString();
  const fixed = c.lenencInt();
  if (fixed === null || fixed < 0x0c)
    throw new MysqlProtocolViolation("column definition: fixed-length fields are missing");
  const fields = c.bytes(fixed);
  return {
    catalog,
    schema,
    table,
    orgTable,
    name,
    orgName,
    charset: fields.readUInt16LE(0),
    length: fields.readUInt32LE(2),
    type: fields[6]!,
    flags: fields.readUInt16LE(7),
    decimals: fields[9]!,
  };
}
