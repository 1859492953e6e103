/**
 * The MySQL classification of one text: lex (statements, comments, executable comments), the keyword table,
 * the real parser, the handler table and the whole-tree walk. No cache here (create-classifier.ts has it).
 */
import type { Access, ClassifiedStatement } from "../classification.js";
import { keywordRule } from "./keyword-statements.js";
import { parseMysql } from "./load-parser.js";
import { handleSet } from "./set-statements.js";
import { STATEMENT_HANDLERS } from "./statement-handlers.js";
import { type LexerModes, leadingWords, type StatementSlice, splitStatements } from "./statement-text.js";
import { isNode, StatementFacts, type WalkScope } from "./walk-facts.js";

/** A classified MySQL statement: the shared shape, plus the database a USE switches to. */
export interface MysqlClassifiedStatement extends ClassifiedStatement {
  readonly useDatabase?: string;
}

export type MysqlClassification =
  | { readonly ok: true; readonly statements: readonly MysqlClassifiedStatement[] }
  | { readonly ok: false; readonly failure: "unparseable" | "unsupported"; readonly reason: string };

const READ_ONLY_ACTIONS = new Set(["sql:select", "sql:explain", "sql:session", "sql:set"]);

export function classifyMysql(text: string, database: string, modes: LexerModes = {}): MysqlClassification {
  const split = splitStatements(text, modes);
  if (!split.ok) return { ok: false, failure: "unparseable", reason: split.reason };
  return classifySlices(split.statements, database, modes);
}

export function classifySlices(
  slices: readonly StatementSlice[],
  database: string,
  modes: LexerModes = {},
): MysqlClassification {
  const scope: WalkScope = { database, ctes: new Set() };
  const statements: MysqlClassifiedStatement[] = [];
  for (const [index, slice] of slices.entries()) {
    const facts = classifyCode(slice.code, scope, modes);
    // Later statements would resolve names against a database the gateway cannot confirm was selected.
    if (facts.useDatabase !== undefined && index !== slices.length - 1)
      facts.refuse("USE followed by more statements in one query; send USE on its own");
    if (facts.unsupported !== undefined) {
      return {
        ok: false,
        failure: facts.verb === "unparseable" ? "unparseable" : "unsupported",
        reason: facts.unsupported,
      };
    }
    statements.push(toClassified(facts, slice.text));
  }
  return { ok: true, statements };
}

/** The same classification carrying other statement texts (a literal variant of the texts it was made from). */
export function withTexts(
  statements: readonly MysqlClassifiedStatement[],
  texts: readonly string[],
): MysqlClassifiedStatement[] {
  return statements.map((statement, i) => {
    const text = texts[i] ?? statement.text;
    const prepares = statement.prepares && {
      name: statement.prepares.name,
      inner: { ...statement.prepares.inner, text, step: { ...statement.prepares.inner.step, text } },
    };
    return { ...statement, text, step: { ...statement.step, text }, ...(prepares && { prepares }) };
  });
}

function classifyCode(code: string, scope: WalkScope, modes: LexerModes): StatementFacts {
  const facts = new StatementFacts();
  const rule = keywordRule(leadingWords(code));
  if (rule !== undefined) {
    if ("refuse" in rule) facts.refuse(rule.refuse);
    else if ("verb" in rule) {
      facts.verb = rule.verb;
      facts.nodeType = leadingWords(code).join(" ");
    } else dynamicSql(rule.dynamic, code, scope, modes, facts);
    return facts;
  }
  const parsed = parseMysql(code);
  if (!parsed.ok) {
    facts.verb = "unparseable";
    facts.refuse(parsed.reason);
    return facts;
  }
  if (parsed.statements.length !== 1 || !isNode(parsed.statements[0])) {
    facts.refuse("the parser and the lexer disagree about where statements end");
    return facts;
  }
  const [kind, fields] = Object.entries(parsed.statements[0])[0] ?? [];
  facts.nodeType = kind ?? "";
  if (kind === "Set" && isNode(fields)) facts.verb = handleSet(fields, scope, facts);
  else {
    const handler = kind === undefined ? undefined : STATEMENT_HANDLERS[kind];
    if (handler === undefined || !isNode(fields)) {
      facts.refuse(`${kind ?? "this"} statements are not supported through the gateway`);
      return facts;
    }
    facts.verb = handler(fields, scope, facts);
  }
  if (facts.locks)
    for (const table of facts.tablesRead) facts.add("sql:lock", { type: "Table", name: table });
  return facts;
}

const PREPARE_FROM_TEXT =
  /^PREPARE\s+(`[^`]+`|\w+)\s+FROM\s+('(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")\s*$/is;
const EXECUTE = /^EXECUTE\s+(`[^`]+`|\w+)(\s+USING\s+@\w+(\s*,\s*@\w+)*)?\s*$/is;
const DEALLOCATE = /^(?:DEALLOCATE|DROP)\s+PREPARE\s+(`[^`]+`|\w+)\s*$/is;

/** SQL-level prepared statements: the text must be a literal the gateway can classify now (no PREPARE FROM @v). */
function dynamicSql(
  kind: "prepare" | "execute" | "deallocate",
  code: string,
  scope: WalkScope,
  modes: LexerModes,
  facts: StatementFacts,
): void {
  facts.nodeType = kind.toUpperCase();
  const unquote = (name: string) => name.replace(/^`|`$/g, "").toLowerCase();
  if (kind === "prepare") {
    const match = PREPARE_FROM_TEXT.exec(code);
    if (match === null) {
      facts.refuse(
        "PREPARE ... FROM a variable is dynamic SQL whose text Latch cannot check; PREPARE FROM a string literal",
      );
      return;
    }
    const literal = match[2]!;
    const quote = literal[0]!;
    let inner = literal.slice(1, -1).replaceAll(quote + quote, quote);
    if (!modes.noBackslashEscapes) inner = inner.replace(/\\(.)/gs, (_, c: string) => unescapeChar(c));
    const split = splitStatements(inner, modes);
    if (!split.ok || split.statements.length !== 1) {
      facts.refuse("PREPARE of a text that is not exactly one statement");
      return;
    }
    const innerFacts = classifyCode(split.statements[0]!.code, scope, modes);
    if (innerFacts.unsupported !== undefined) {
      facts.refuse(`the prepared statement: ${innerFacts.unsupported}`);
      return;
    }
    facts.verb = "sql:prepare";
    facts.prepares = { name: unquote(match[1]!), inner: innerFacts };
    return;
  }
  const match = (kind === "execute" ? EXECUTE : DEALLOCATE).exec(code);
  if (match === null) {
    facts.refuse(`${kind.toUpperCase()} in a form Latch does not know`);
    return;
  }
  if (kind === "execute") {
    facts.verb = "sql:execute";
    facts.executes = unquote(match[1]!);
  } else {
    facts.verb = "sql:session";
    facts.deallocates = unquote(match[1]!);
  }
}

function unescapeChar(c: string): string {
  return (
    ({ n: "\n", t: "\t", r: "\r", "0": "\u0000", b: "\b", Z: "\u001a" } as Record<string, string>)[c] ?? c
  );
}

function toClassified(facts: StatementFacts, text: string): MysqlClassifiedStatement {
  const verb = facts.verb ?? "";
  const primary: Access[] = facts.accesses.filter((access) => access.action === verb);
  const others = facts.accesses.filter((access) => access.action !== verb);
  if (primary.length === 0) primary.push({ action: verb, resource: { type: "Connection" } });
  const accesses = [...primary, ...others];
  const tablesRead = [...facts.tablesRead];
  const tablesWritten = [...facts.tablesWritten];
  const readOnly =
    facts.executes === undefined &&
    facts.prepares === undefined &&
    accesses.every((a) => READ_ONLY_ACTIONS.has(a.action));
  const tableCount = new Set([...tablesRead, ...tablesWritten]).size;
  return {
    text,
    nodeType: facts.nodeType,
    verb,
    accesses,
    tablesRead,
    tablesWritten,
    functions: [...facts.functions],
    readOnly,
    hasWhere: facts.hasWhere,
    step: {
      text,
      action: verb,
      accesses,
      facts: { readOnly, hasWhere: facts.hasWhere, tableCount, command: "" },
      recorded: { tablesRead, tablesWritten },
    },
    ...(facts.prepares && {
      prepares: { name: facts.prepares.name, inner: toClassified(facts.prepares.inner, text) },
    }),
    ...(facts.executes !== undefined && { executes: facts.executes }),
    ...(facts.deallocates !== undefined && { deallocates: facts.deallocates }),
    ...(facts.useDatabase !== undefined && { useDatabase: facts.useDatabase }),
  };
}
