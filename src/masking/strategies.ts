/**
 * What a sensitive value becomes. Every strategy is deterministic, so a masked result is stable across runs,
 * and `hash` is a keyed HMAC so equal values stay equal (joins and GROUP BY on the client still work) while the
 * clear value cannot be recovered by hashing guesses without the key.
 */
import { createHmac } from "node:crypto";

export type StrategyName = "redact" | "partial" | "hash" | "null";

export interface MaskingStrategy {
  readonly name: StrategyName;
  /** The masked form of `value`; null means the whole value becomes null (SQL NULL, JSON null). */
  apply(value: string): string | null;
  /** Same result on UTF-8 bytes [start, end) without decoding, when the strategy can do it cheaply. */
  applyBytes?(bytes: Buffer, start: number, end: number): Buffer | null;
  /**
   * Masks UTF-8 bytes [start, end) where they lie, when the masked form has the same length (so a row can be
   * masked in one copy of itself, with no Buffer per value). `original` [originalStart...) holds the same bytes,
   * unmasked, somewhere else (the received row the copy was made from): a strategy may start masking before it
   * knows it cannot, and puts back what it changed from there. InPlace.Refused when it cannot (nothing changed);
   * otherwise whether a byte changed.
   */
  applyInPlace?(
    bytes: Buffer,
    start: number,
    end: number,
    original: Uint8Array,
    originalStart: number,
  ): InPlace;
}

/** What applyInPlace() did. Refused is 0, so the answer reads as "done" where it is only tested for truth. */
export const InPlace = {
  /** It cannot mask these bytes in place (not ASCII, for `partial`): they are as they were. */
  Refused: 0,
  /** Masked, and the masked form is the value itself (nothing to star). */
  Unchanged: 1,
  Changed: 2,
} as const;
export type InPlace = (typeof InPlace)[keyof typeof InPlace];

export const REDACTED = "[redacted]";

/** Characters replaced by `partial`: letters and digits; separators stay so the shape remains readable. */
const MASKABLE = /[\p{L}\p{N}]/u;

function isMaskableAscii(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/**
 * Keeps the last `keepLast` letters/digits and stars the others: 123-45-6789 -> ***-**-6789. Never reveals
 * more than half of a value's letters and digits, so a short value is not shown whole.
 */
export function keepLast(value: string, keepLastCount: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII range check
  if (!/^[\x00-\x7f]*$/.test(value)) return keepLastUnicode(value, keepLastCount);
  let maskable = 0;
  for (let i = 0; i < value.length; i++) if (isMaskableAscii(value.charCodeAt(i))) maskable++;
  let keep = Math.min(keepLastCount, Math.floor(maskable / 2));
  // Index of the first character kept in clear: the keep-th maskable character from the end.
  let clearFrom = value.length;
  for (let i = value.length - 1; i >= 0 && keep > 0; i--) {
    if (isMaskableAscii(value.charCodeAt(i))) {
      keep--;
      clearFrom = i;
    }
  }
  let out = "";
  for (let i = 0; i < clearFrom; i++) out += isMaskableAscii(value.charCodeAt(i)) ? "*" : value[i];
  return out + value.slice(clearFrom);
}

/** keepLast on UTF-8 bytes; ASCII is done in place on a copy, anything else through the string path. */
export function keepLastBytes(bytes: Buffer, start: number, end: number, keepLastCount: number): Buffer {
  let maskable = 0;
  for (let i = start; i < end; i++) {
    const code = bytes[i]!;
    if (code >= 0x80) return Buffer.from(keepLast(bytes.toString("utf8", start, end), keepLastCount), "utf8");
    if (isMaskableAscii(code)) maskable++;
  }
  let keep = Math.min(keepLastCount, Math.floor(maskable / 2));
  const out = Buffer.allocUnsafe(end - start);
  for (let i = end - 1; i >= start; i--) {
    const code = bytes[i]!;
    if (!isMaskableAscii(code)) out[i - start] = code;
    else if (keep > 0) {
      keep--;
      out[i - start] = code;
    } else out[i - start] = 0x2a; // *
  }
  return out;
}

/** Per byte: 1 for an ASCII letter or digit, 2 for a byte of a multi-byte UTF-8 character, 0 otherwise. */
const BYTE_KIND = (() => {
  const table = new Uint8Array(256);
  for (let b = 0; b < 0x80; b++) if (isMaskableAscii(b)) table[b] = 1;
  for (let b = 0x80; b <= 0xff; b++) table[b] = 2;
  return table;
})();

/**
 * keepLastBytes where the bytes lie, for ASCII (same length); InPlace.Refused, with nothing changed, for anything
 * else (`original` [originalStart...) is the unmasked copy the starred bytes are put back from).
 *
 * One backward read of the value: keep = min(keepLast, letters and digits / 2) is keepLast as soon as twice that
 * many have been seen from the end, so the last 2 x keepLast letters and digits are only counted, and every one
 * before them is starred as it is read (a typed-array read costs a dozen instructions; the version before read
 * every byte twice). The counted tail is then masked as keepLast says: its last `keep` stay.
 */
export function keepLastInPlace(
  bytes: Buffer,
  start: number,
  end: number,
  keepLastCount: number,
  original: Uint8Array,
  originalStart: number,
): InPlace {
  const counted = 2 * keepLastCount;
  let maskable = 0;
  let i = end - 1;
  for (; i >= start && maskable < counted; i--) {
    const kind = BYTE_KIND[bytes[i]!]!;
    if (kind === 2) return InPlace.Refused;
    maskable += kind;
  }
  const countedFrom = i + 1;
  let starred = 0;
  for (; i >= start; i--) {
    const kind = BYTE_KIND[bytes[i]!]!;
    if (kind === 1) {
      bytes[i] = 0x2a; // *
      starred++;
    } else if (kind === 2) {
      // Not ASCII (the text path masks it): put back the letters and digits starred after it.
      for (let j = i + 1; j < countedFrom; j++) bytes[j] = original[originalStart + (j - start)]!;
      return InPlace.Refused;
    }
  }
  // The tail holds every letter and digit counted, so keep (at most half of them) ends inside it.
  let keep = Math.min(keepLastCount, maskable >>> 1);
  let j = end - 1;
  for (; keep > 0; j--) keep -= BYTE_KIND[bytes[j]!]!;
  for (; j >= countedFrom; j--) {
    if (BYTE_KIND[bytes[j]!] === 1) {
      bytes[j] = 0x2a; // *
      starred++;
    }
  }
  return starred > 0 ? InPlace.Changed : InPlace.Unchanged;
}

function keepLastUnicode(value: string, keepLastCount: number): string {
  const chars = Array.from(value);
  let maskable = 0;
  for (const char of chars) if (MASKABLE.test(char)) maskable++;
  let keep = Math.min(keepLastCount, Math.floor(maskable / 2));
  for (let i = chars.length - 1; i >= 0; i--) {
    if (!MASKABLE.test(chars[i]!)) continue;
    if (keep > 0) keep--;
    else chars[i] = "*";
  }
  return chars.join("");
}

export interface StrategySpec {
  readonly strategy: StrategyName;
  readonly keepLast: number;
  /** Required for `hash`: the HMAC key (already resolved from its secret reference). */
  readonly hashKey?: Buffer;
}

/** Hex digits kept from the HMAC: 128 bits, far past any collision a join could notice. */
const HASH_HEX_CHARS = 32;

export function createStrategy(spec: StrategySpec): MaskingStrategy {
  switch (spec.strategy) {
    case "redact":
      return { name: "redact", apply: () => REDACTED, applyBytes: () => Buffer.from(REDACTED) };
    case "null":
      return { name: "null", apply: () => null, applyBytes: () => null };
    case "partial": {
      const count = spec.keepLast;
      return {
        name: "partial",
        apply: (value) => keepLast(value, count),
        applyBytes: (bytes, start, end) => keepLastBytes(bytes, start, end, count),
        applyInPlace: (bytes, start, end, original, originalStart) =>
          keepLastInPlace(bytes, start, end, count, original, originalStart),
      };
    }
    case "hash": {
      const key = spec.hashKey;
      if (key === undefined || key.length < 16) {
        throw new Error("the hash strategy needs hash_key: a secret of at least 16 bytes");
      }
      return {
        name: "hash",
        apply: (value) =>
          `hmac:${createHmac("sha256", key).update(value, "utf8").digest("hex").slice(0, HASH_HEX_CHARS)}`,
      };
    }
    default:
      throw new Error(`unknown masking strategy ${String((spec as { strategy: unknown }).strategy)}`);
  }
}
