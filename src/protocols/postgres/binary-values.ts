/**
 * Text renderings of binary-format numbers, so content detectors can look at them: a card number stored as
 * bigint or numeric and fetched in binary format must not slip past detection just because it is not text.
 * Pure; a malformed value is reported as undefined (the caller fails closed).
 */

export const TYPE_OID = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  xml: 142,
  float4: 700,
  float8: 701,
  unknown: 705,
  bpchar: 1042,
  varchar: 1043,
  numeric: 1700,
  jsonb: 3802,
} as const;

/** Types whose binary format is the same UTF-8 text as their text format. */
export const BINARY_TEXT_TYPES: ReadonlySet<number> = new Set([
  TYPE_OID.char,
  TYPE_OID.name,
  TYPE_OID.text,
  TYPE_OID.json,
  TYPE_OID.xml,
  TYPE_OID.unknown,
  TYPE_OID.bpchar,
  TYPE_OID.varchar,
]);

export const BINARY_NUMBER_TYPES: ReadonlySet<number> = new Set([
  TYPE_OID.int2,
  TYPE_OID.int4,
  TYPE_OID.int8,
  TYPE_OID.oid,
  TYPE_OID.float4,
  TYPE_OID.float8,
  TYPE_OID.numeric,
]);

const NUMERIC_NEGATIVE = 0x4000;
const NUMERIC_POSITIVE = 0x0000;

/** Decimal text of a binary number of type `typeOid`, or undefined when the bytes do not fit the type. */
export function binaryNumberText(typeOid: number, value: Buffer): string | undefined {
  switch (typeOid) {
    case TYPE_OID.int2:
      return value.length === 2 ? String(value.readInt16BE(0)) : undefined;
    case TYPE_OID.int4:
      return value.length === 4 ? String(value.readInt32BE(0)) : undefined;
    case TYPE_OID.oid:
      return value.length === 4 ? String(value.readUInt32BE(0)) : undefined;
    case TYPE_OID.int8:
      return value.length === 8 ? value.readBigInt64BE(0).toString() : undefined;
    case TYPE_OID.float4:
      return value.length === 4 ? String(value.readFloatBE(0)) : undefined;
    case TYPE_OID.float8:
      return value.length === 8 ? numberText(value.readDoubleBE(0)) : undefined;
    case TYPE_OID.numeric:
      return numericText(value);
    default:
      return undefined;
  }
}

/** Integers up to 2^53 without exponent notation, so a 16-digit card stored as float8 reads as digits. */
function numberText(value: number): string {
  return Number.isInteger(value) && Math.abs(value) < 2 ** 63 ? BigInt(value).toString() : String(value);
}

/** numeric: ndigits, weight, sign, dscale (int16 each), then ndigits base-10000 digits. */
function numericText(value: Buffer): string | undefined {
  if (value.length < 8) return undefined;
  const ndigits = value.readInt16BE(0);
  const weight = value.readInt16BE(2);
  const sign = value.readUInt16BE(4);
  if (ndigits < 0 || value.length !== 8 + ndigits * 2) return undefined;
  if (sign !== NUMERIC_POSITIVE && sign !== NUMERIC_NEGATIVE) return "NaN"; // NaN and infinities: no digits
  let integer = "";
  let fraction = "";
  for (let i = 0; i < ndigits; i++) {
    const digit = value.readInt16BE(8 + i * 2);
    if (digit < 0 || digit > 9999) return undefined;
    const padded = String(digit).padStart(4, "0");
    if (i <= weight) integer += i === 0 ? String(digit) : padded;
    else fraction += padded;
  }
  // Digits past the last one stored are zeros up to the weight.
  for (let i = ndigits; i <= weight; i++) integer += "0000";
  if (weight < 0) fraction = "0000".repeat(-weight - 1) + fraction;
  const text = (integer === "" ? "0" : integer) + (fraction === "" ? "" : `.${fraction.replace(/0+$/, "")}`);
  return (sign === NUMERIC_NEGATIVE ? "-" : "") + text.replace(/\.$/, "");
}
