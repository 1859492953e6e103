/**
 * The lexer copies runs of ordinary code as slices (statement-text.ts); this holds it to the character-by-character
 * lexer it replaced, kept here as the reference: the same statements, code and shapes (or the same refusal) for
 * any text built from the characters that matter to it, in both backslash modes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  firstWordIs,
  type LexerModes,
  type Split,
  type StatementSlice,
  splitStatements,
} from "../../../src/sql/mysql/statement-text.js";
import { MYSQL_STATEMENTS } from "./statement-corpus.js";

function referenceSplit(text: string, modes: LexerModes = {}): Split {
  if (text.includes("\u0000")) return { ok: false, reason: "the SQL text contains a NUL character" };
  const statements: StatementSlice[] = [];
  let start = 0;
  let code = "";
  let shape = "";
  let plain = "";
  const flushPlain = () => {
    shape += plain.replace(NUMBER, "0");
    plain = "";
  };
  let i = 0;
  let inExecutable = false;
  const n = text.length;
  const flush = (end: number) => {
    const slice = text.slice(start, end);
    flushPlain();
    if (code.trim() !== "") statements.push({ text: slice.trim(), code: code.trim(), shape: shape.trim() });
    code = "";
    shape = "";
    start = end + 1;
  };
  while (i < n) {
    const ch = text[i]!;
    const next = text[i + 1];
    if (ch === "'" || ch === '"' || ch === "`") {
      const end = quoteEnd(text, i, ch, ch !== "`" && !modes.noBackslashEscapes);
      if (end === -1) return { ok: false, reason: `unterminated ${ch === "`" ? "identifier" : "string"}` };
      if (inExecutable && text.slice(i, end).includes("*/"))
        return { ok: false, reason: "a quoted text inside an executable comment contains */" };
      code += text.slice(i, end);
      flushPlain();
      shape += ch === "`" ? text.slice(i, end) : ch + ch;
      i = end;
      continue;
    }
    if (ch === "#" || (ch === "-" && next === "-" && isCommentSpace(text[i + 2]))) {
      if (inExecutable) return { ok: false, reason: "a line comment inside an executable comment" };
      const end = text.indexOf("\n", i);
      code += " ";
      flushPlain();
      shape += " ";
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (ch === "/" && next === "*") {
      if (inExecutable) return { ok: false, reason: "a comment nested in an executable comment" };
      const executable = executablePrefix(text, i);
      if (executable > 0) {
        inExecutable = true;
        code += " ";
        flushPlain();
        shape += " ";
        i += executable;
        continue;
      }
      const end = text.indexOf("*/", i + 2);
      if (end === -1) return { ok: false, reason: "unterminated comment" };
      code += " ";
      flushPlain();
      shape += " ";
      i = end + 2;
      continue;
    }
    if (ch === "*" && next === "/" && inExecutable) {
      inExecutable = false;
      code += " ";
      flushPlain();
      shape += " ";
      i += 2;
      continue;
    }
    if (ch === ";") {
      if (inExecutable) return { ok: false, reason: "a statement separator inside an executable comment" };
      flush(i);
      i++;
      continue;
    }
    code += ch;
    plain += ch;
    i++;
  }
  if (inExecutable) return { ok: false, reason: "unterminated executable comment" };
  flush(n);
  return { ok: true, statements };
}

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

const pieces = [
  "'",
  '"',
  "`",
  "#",
  "-",
  "--",
  "-- ",
  "/",
  "*",
  "/*",
  "*/",
  "/*!",
  "/*!50000",
  "/*M!",
  ";",
  "\\",
  "\n",
  " ",
  "\t",
  "1",
  "42",
  "1.5e3",
  "0x1F",
  "t1",
  "abc",
  "SELECT",
  "FROM",
  "é",
  "$",
  ".",
  "=",
  "(",
  ")",
];

describe("the MySQL lexer", () => {
  it("splits the corpus as the character-by-character lexer did", () => {
    for (const text of MYSQL_STATEMENTS) expect(splitStatements(text)).toEqual(referenceSplit(text));
  });

  it("agrees with the character-by-character lexer on any mix of quotes, comments, separators and numbers", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...pieces), { maxLength: 40 }),
        fc.boolean(),
        (parts, noBackslash) => {
          const text = parts.join("");
          const modes: LexerModes = { noBackslashEscapes: noBackslash };
          expect(splitStatements(text, modes)).toEqual(referenceSplit(text, modes));
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe("firstWordIs", () => {
  /** The regex and upper-casing it replaced (create-classifier.ts), kept here as the reference. */
  const reference = (code: string, word: string) =>
    (/^[\s(]*([A-Za-z_]+)/.exec(code)?.[1]?.toUpperCase() ?? "") === word;
  const characters = [
    ..."SETPREPAREsetprepare_xX1(); '`",
    "\t",
    "\n",
    "\v",
    "\f",
    "\r",
    "\u0085",
    "\u00a0",
    "\u1680",
    "\u2000",
    "\u200a",
    "\u200b",
    "\u2028",
    "\u2029",
    "\u202f",
    "\u205f",
    "\u3000",
    "\ufeff",
    "\u017f", // LATIN SMALL LETTER LONG S: upper-cases to S, but is no [A-Za-z]
    "\u0131",
    "s\u0307",
    "\u0000",
  ];

  it("reads the first word as the regex did, for words of the table and any leading characters", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...characters, "SET", "PREPARE", "set ", " prepare"), { maxLength: 12 }),
        fc.constantFrom("SET", "PREPARE"),
        (parts, word) => {
          const code = parts.join("");
          expect(firstWordIs(code, word)).toBe(reference(code, word));
        },
      ),
      { numRuns: 20000 },
    );
    for (const code of MYSQL_STATEMENTS)
      for (const word of ["SET", "PREPARE", "SELECT"])
        expect(firstWordIs(code, word)).toBe(reference(code, word));
  });
});
