/**
 * A MySQL lexer just deep enough to agree with the server about where statements, strings and comments are:
 * splits multi-statement text at `;`, unwraps executable comments (`/*! ... *\/`, `/*!50000 ... *\/`,
 * MariaDB's `/*M! ... *\/`) into code, and refuses what the server and the parser could read differently.
 *
 * The server runs a versioned executable comment only when its version is high enough; the classifier always
 * treats the content as code, so it sees at least what the server runs. Content that could change the meaning
 * of the text around the comment (a quote, a comment marker) is refused instead of guessed at.
 */

export interface StatementSlice {
  /** The statement as the client sent it (for the record). */
  readonly text: string;
  /** The same with executable comments unwrapped and ordinary comments blanked: what the parser reads. */
  readonly code: string;
  /**
   * The code with every string literal emptied and every number outside quotes made 0: texts that differ only in
   * literal values share a shape (the classification cache key, for statements whose verdict does not depend on
   * a literal).
   */
  readonly shape: string;
}

export type Split =
  | { readonly ok: true; readonly statements: StatementSlice[] }
  | { readonly ok: false; readonly reason: string };

export interface LexerModes {
  /** NO_BACKSLASH_ESCAPES: a backslash inside a string is an ordinary character. */
  readonly noBackslashEscapes?: boolean;
}

export function splitStatements(text: string, modes: LexerModes = {}): Split {
  if (text.includes("\u0000")) return { ok: false, reason: "the SQL text contains a NUL character" };
  const statements: StatementSlice[] = [];
  let start = 0;
  let code = "";
  let shape = "";
  // Ordinary characters are not copied one by one: a run of them (from `run` to the next token that is not
  // ordinary) goes into the code as one slice and into the shape with its numbers made 0.
  let run = 0;
  const flushRun = (end: number) => {
    if (end > run) {
      const plain = text.slice(run, end);
      code += plain;
      shape += plain.replace(NUMBER, "0");
    }
  };
  let i = 0;
  let inExecutable = false;
  const n = text.length;
  const flush = (end: number) => {
    const slice = text.slice(start, end);
    flushRun(end);
    if (code.trim() !== "") statements.push({ text: slice.trim(), code: code.trim(), shape: shape.trim() });
    code = "";
    shape = "";
    start = end + 1;
  };
  /** A comment or an executable comment's delimiter: one space in the code and the shape. */
  const blank = (at: number) => {
    flushRun(at);
    code += " ";
    shape += " ";
  };
  while (i < n) {
    const ch = text.charCodeAt(i);
    if (!SPECIAL[ch]) {
      i++;
      continue;
    }
    const next = text.charCodeAt(i + 1);
    if (ch === QUOTE || ch === DOUBLE_QUOTE || ch === BACKTICK) {
      const quote = text[i]!;
      const end = quoteEnd(text, i, quote, ch !== BACKTICK && !modes.noBackslashEscapes);
      if (end === -1)
        return { ok: false, reason: `unterminated ${ch === BACKTICK ? "identifier" : "string"}` };
      if (inExecutable && text.slice(i, end).includes("*/"))
        return { ok: false, reason: "a quoted text inside an executable comment contains */" };
      flushRun(i);
      const quoted = text.slice(i, end);
      code += quoted;
      shape += ch === BACKTICK ? quoted : quote + quote;
      i = end;
      run = i;
      continue;
    }
    if (ch === HASH || (ch === DASH && next === DASH && isCommentSpace(text[i + 2]))) {
      if (inExecutable) return { ok: false, reason: "a line comment inside an executable comment" };
      const end = text.indexOf("\n", i);
      blank(i);
      i = end === -1 ? n : end + 1;
      run = i;
      continue;
    }
    if (ch === SLASH && next === STAR) {
      if (inExecutable) return { ok: false, reason: "a comment nested in an executable comment" };
      const executable = executablePrefix(text, i);
      if (executable > 0) {
        inExecutable = true;
        blank(i);
        i += executable;
        run = i;
        continue;
      }
      const end = text.indexOf("*/", i + 2);
      if (end === -1) return { ok: false, reason: "unterminated comment" };
      blank(i);
      i = end + 2;
      run = i;
      continue;
    }
    if (ch === STAR && next === SLASH && inExecutable) {
      inExecutable = false;
      blank(i);
      i += 2;
      run = i;
      continue;
    }
    if (ch === SEMICOLON) {
      if (inExecutable) return { ok: false, reason: "a statement separator inside an executable comment" };
      flush(i);
      i++;
      run = i;
      continue;
    }
    i++; // a `-`, `/` or `*` that starts nothing: ordinary, part of the run
  }
  if (inExecutable) return { ok: false, reason: "unterminated executable comment" };
  flush(n);
  return { ok: true, statements };
}

const QUOTE = 0x27;
const DOUBLE_QUOTE = 0x22;
const BACKTICK = 0x60;
const HASH = 0x23;
const DASH = 0x2d;
const SLASH = 0x2f;
const STAR = 0x2a;
const SEMICOLON = 0x3b;
/** The characters that may start something other than ordinary code (indexed by UTF-16 code unit below 128). */
const SPECIAL: readonly boolean[] = (() => {
  const table = new Array<boolean>(128).fill(false);
  for (const c of [QUOTE, DOUBLE_QUOTE, BACKTICK, HASH, DASH, SLASH, STAR, SEMICOLON]) table[c] = true;
  return table;
})();

/** A number token: not part of an identifier (t1, 1abc) nor of a hex literal (0x1F). */
const NUMBER = /(?<![\w$.])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w$])/gi;

/** `--` starts a comment only when followed by whitespace or a control character (or at the end). */
function isCommentSpace(ch: string | undefined): boolean {
  return ch === undefined || ch <= " ";
}

/** Length of an executable comment opener at `i` (`/*!`, `/*!NNNNN`, `/*M!`, `/*M!NNNNNN`), or 0. */
function executablePrefix(text: string, i: number): number {
  let j = i + 2;
  if (text[j] === "M" && text[j + 1] === "!") j += 2;
  else if (text[j] === "!") j += 1;
  else return 0;
  while (j < text.length && text[j]! >= "0" && text[j]! <= "9") j++;
  return j - i;
}

/** Index just past the closing quote, or -1. A doubled quote is an escaped quote; backslash escapes if enabled. */
function quoteEnd(text: string, start: number, quote: string, backslash: boolean): number {
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (backslash && ch === "\\") {
      i += 2;
      continue;
    }
    if (ch === quote) {
      if (text[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return -1;
}

/**
 * The code's first word (after whitespace and opening parentheses, as leadingWords reads it) is `word`, given
 * upper-case: read from char codes, no slice, regex or upper-cased copy (every classified text asks this).
 */
export function firstWordIs(code: string, word: string): boolean {
  const n = code.length;
  let i = 0;
  while (i < n && isLeadingSkip(code.charCodeAt(i))) i++;
  if (n - i < word.length) return false;
  for (let j = 0; j < word.length; j++) {
    const c = code.charCodeAt(i + j);
    // ASCII letters only: `c | 0x20` folds A-Z onto a-z and maps no other code onto a letter of the word.
    if ((c | 0x20) !== (word.charCodeAt(j) | 0x20) || !isWordChar(c)) return false;
  }
  return i + word.length === n || !isWordChar(code.charCodeAt(i + word.length));
}

/** `[A-Za-z_]`: the characters of a leading word. */
function isWordChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

/** `[\s(]`: what leadingWords skips before the first word (`\s` as JavaScript defines it, Unicode spaces too). */
function isLeadingSkip(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return c === 0x28;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** The upper-cased leading words of a statement's code (identifiers only), for the keyword table. */
export function leadingWords(code: string, count = 3): string[] {
  return (code.match(/^[\s(]*([A-Za-z_]+)(?:\s+([A-Za-z_]+))?(?:\s+([A-Za-z_]+))?/) ?? [])
    .slice(1, 1 + count)
    .filter((w): w is string => w !== undefined)
    .map((w) => w.toUpperCase());
}
