/**
 * Deliberately naive PostgreSQL byte builders for test fixtures. Written from the protocol documentation as
 * plain arrays of numbers, sharing nothing with the real encoder, so a bug in one is caught by the other.
 */

export type Bytes = number[];

export function int16(value: number): Bytes {
  const v = value < 0 ? value + 0x10000 : value;
  return [(v >> 8) & 0xff, v & 0xff];
}

export function int32(value: number): Bytes {
  const v = value < 0 ? value + 0x100000000 : value;
  return [Math.floor(v / 0x1000000) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
}

/** UTF-8 bytes of a string, encoded by hand (no Buffer, no TextEncoder). */
export function utf8(text: string): Bytes {
  const out: Bytes = [];
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else {
      out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    }
  }
  return out;
}

/** A C string: UTF-8 bytes and a NUL. */
export function cstr(text: string): Bytes {
  return [...utf8(text), 0];
}

/** Raw bytes followed by a NUL, for strings that are deliberately not valid UTF-8. */
export function rawCstr(bytes: Bytes): Bytes {
  return [...bytes, 0];
}

/** A typed message: type letter, int32 length counting itself, then the body parts. */
export function typed(type: string, ...parts: Bytes[]): Bytes {
  const body = parts.flat();
  return [type.charCodeAt(0), ...int32(body.length + 4), ...body];
}

/** A startup-phase packet: int32 length counting itself, then the body parts. */
export function untyped(...parts: Bytes[]): Bytes {
  const body = parts.flat();
  return [...int32(body.length + 4), ...body];
}

export function startupMessage(params: [string, string][], version = 196608): Bytes {
  return untyped(int32(version), ...params.map(([k, v]) => [...cstr(k), ...cstr(v)]), [0]);
}

export function bind(options: {
  portal?: string;
  statement?: string;
  paramFormats?: number[];
  params: (Bytes | null)[];
  resultFormats?: number[];
}): Bytes {
  const formats = options.paramFormats ?? [];
  const results = options.resultFormats ?? [];
  return typed(
    "B",
    cstr(options.portal ?? ""),
    cstr(options.statement ?? ""),
    int16(formats.length),
    ...formats.map(int16),
    int16(options.params.length),
    ...options.params.map((p) => (p === null ? int32(-1) : [...int32(p.length), ...p])),
    int16(results.length),
    ...results.map(int16),
  );
}

export function toBuffer(bytes: Bytes): Buffer {
  return Buffer.from(bytes);
}
