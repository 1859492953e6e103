/**
 * Cuts one statement's text out of the input. The parser reports UTF-8 byte offsets while JavaScript strings
 * index UTF-16 code units, so non-ASCII text is sliced through its UTF-8 bytes.
 */

export interface StatementSpan {
  /** The statement's text, without the whitespace around it. */
  readonly text: string;
  /** UTF-16 code units of the input before `text` and after it (used to re-cut literal variants). */
  readonly prefix: number;
  readonly suffix: number;
}

export interface TextSlicer {
  span(byteStart: number, byteLength: number | undefined): StatementSpan;
}

export function createTextSlicer(input: string): TextSlicer {
  const ascii = Buffer.byteLength(input, "utf8") === input.length;
  const bytes = ascii ? undefined : Buffer.from(input, "utf8");
  const charOffset = (byte: number): number =>
    bytes === undefined ? byte : bytes.toString("utf8", 0, byte).length;
  return {
    span(byteStart, byteLength) {
      const totalBytes = bytes?.length ?? input.length;
      const start = Math.min(Math.max(byteStart, 0), totalBytes);
      const end = byteLength === undefined ? totalBytes : Math.min(start + byteLength, totalBytes);
      const raw = bytes === undefined ? input.slice(start, end) : bytes.toString("utf8", start, end);
      const text = raw.trim();
      const prefix = charOffset(start) + (raw.length - raw.trimStart().length);
      return { text, prefix, suffix: input.length - prefix - text.length };
    },
  };
}
