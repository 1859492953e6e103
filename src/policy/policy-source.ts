/**
 * Source bookkeeping for .cedar files: splitting a file into its policies with their positions (Cedar's
 * own splitter returns them sorted by generated id, "policy10" before "policy2", so file order and line
 * numbers are lost) and turning Cedar's UTF-8 byte offsets into line:column.
 */

export interface PolicyChunk {
  /** The policy's text, from its first annotation or keyword through its closing semicolon. */
  readonly text: string;
  /** Index of `text` in the file, in UTF-16 code units (JavaScript string index). */
  readonly start: number;
}

/**
 * Splits Cedar policy text at top-level semicolons. Cedar has only `//` comments and double-quoted strings
 * with backslash escapes, and a semicolon can appear nowhere else but at the end of a policy, so this
 * scan is exact for text that Cedar parses (callers check the parse first). Text after the last
 * semicolon that is not blank or a comment is returned as a final chunk so nothing is silently dropped.
 */
export function splitPolicyText(text: string): PolicyChunk[] {
  const chunks: PolicyChunk[] = [];
  let chunkStart = -1;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      i = end === -1 ? text.length : end + 1;
      continue;
    }
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") {
      i += 1;
      continue;
    }
    if (chunkStart === -1) chunkStart = i;
    if (ch === '"') {
      i = skipString(text, i);
      continue;
    }
    if (ch === ";") {
      chunks.push({ text: text.slice(chunkStart, i + 1), start: chunkStart });
      chunkStart = -1;
    }
    i += 1;
  }
  if (chunkStart !== -1) chunks.push({ text: text.slice(chunkStart).trimEnd(), start: chunkStart });
  return chunks;
}

function skipString(text: string, openQuote: number): number {
  let i = openQuote + 1;
  while (i < text.length) {
    if (text[i] === "\\") i += 2;
    else if (text[i] === '"') return i + 1;
    else i += 1;
  }
  return text.length;
}

export interface SourcePosition {
  /** 1-based. */
  readonly line: number;
  /** 1-based, in characters. */
  readonly column: number;
}

/** Position of a UTF-8 byte offset (as Cedar reports them) inside `text`. */
export function positionOfByteOffset(text: string, byteOffset: number): SourcePosition {
  const prefix = Buffer.from(text, "utf8").subarray(0, Math.max(0, byteOffset)).toString("utf8");
  return positionOfIndex(prefix, prefix.length);
}

/** Position of a JavaScript string index inside `text`. */
export function positionOfIndex(text: string, index: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < index && i < text.length; i += 1) {
    if (text[i] === "\n") {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { line, column: index - lineStart + 1 };
}

/** UTF-8 byte offset of a JavaScript string index, to add to offsets Cedar reports inside a chunk. */
export function byteOffsetOfIndex(text: string, index: number): number {
  return Buffer.byteLength(text.slice(0, index), "utf8");
}
