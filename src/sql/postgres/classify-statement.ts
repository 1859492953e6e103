/**
 * Parse a text with the real parser and classify each of its statements. No cache here: this is the "fresh"
 * path that classification-cache.ts avoids when it can.
 */
import type { OperationStep } from "../../operation/operation.js";
import type { Access, Classification, ClassifiedStatement } from "../classification.js";
import { createFunctionPolicy, type FunctionPolicyOptions } from "./function-lists.js";
import { parseSql } from "./load-parser.js";
import { STATEMENT_HANDLERS } from "./statement-handlers.js";
import { createTextSlicer, type StatementSpan } from "./statement-text.js";
import { READ_ONLY_ACTIONS } from "./statement-verbs.js";
import { createTreeWalker } from "./tree-walk.js";
import type { StatementFacts } from "./walk-facts.js";

export interface FreshClassification {
  readonly classification: Classification;
  /** For a text of exactly one statement: where that statement sits in the text. */
  readonly singleSpan: StatementSpan | undefined;
  /** False when the classification looked at a constant's value: no other literal variant may reuse it. */
  readonly normalizable: boolean;
}

export type ClassifyFresh = (text: string) => FreshClassification;

/** Zero statements is a valid answer: an empty or comment-only text does nothing and is allowed to. */
const NOTHING: FreshClassification = {
  classification: { ok: true, statements: [] },
  singleSpan: undefined,
  normalizable: true,
};

export function createFreshClassifier(options: FunctionPolicyOptions = {}): ClassifyFresh {
  const walker = createTreeWalker(STATEMENT_HANDLERS, createFunctionPolicy(options));

  return (text) => {
    if (text.trim() === "") return NOTHING;
    // The wire protocol ends a query string at NUL; a NUL inside would make us and the server disagree.
    if (text.includes("\u0000")) return failed("unparseable", "the SQL text contains a NUL character");
    const parsed = parseSql(text);
    if (!parsed.ok) return failed("unparseable", parsed.reason);
    const slicer = createTextSlicer(text);
    const statements: ClassifiedStatement[] = [];
    let firstSpan: StatementSpan | undefined;
    let normalizable = true;
    for (const raw of parsed.statements) {
      const facts = walker.walkStatement(raw.node);
      if (facts.readsConstants) normalizable = false;
      if (facts.unsupported !== undefined) return failed("unsupported", facts.unsupported);
      if (facts.verb === undefined) return failed("unsupported", "statement without a recognisable type");
      const span = slicer.span(raw.byteStart, raw.byteLength);
      firstSpan ??= span;
      statements.push(toClassifiedStatement(facts, span.text));
    }
    return {
      classification: { ok: true, statements },
      singleSpan: statements.length === 1 ? firstSpan : undefined,
      normalizable,
    };
  };
}

function failed(failure: "unparseable" | "unsupported", reason: string): FreshClassification {
  return { classification: { ok: false, failure, reason }, singleSpan: undefined, normalizable: true };
}

function toClassifiedStatement(facts: StatementFacts, text: string): ClassifiedStatement {
  const verb = facts.verb ?? "";
  const primary: Access[] = facts.accesses.filter((access) => access.action === verb);
  const others = facts.accesses.filter((access) => access.action !== verb);
  // The primary action always comes first; with no table of its own it applies to the connection.
  if (primary.length === 0) primary.push({ action: verb, resource: { type: "Connection" } });
  const accesses = [...primary, ...others];
  const tablesRead = [...facts.tablesRead];
  const tablesWritten = [...facts.tablesWritten];
  const readOnly =
    facts.executes === undefined && accesses.every((access) => READ_ONLY_ACTIONS.has(access.action));
  return {
    text,
    nodeType: facts.nodeType ?? "",
    verb,
    accesses,
    tablesRead,
    tablesWritten,
    functions: [...facts.functions],
    readOnly,
    hasWhere: facts.hasWhere,
    step: statementStep(
      text,
      verb,
      accesses,
      { readOnly, hasWhere: facts.hasWhere },
      tablesRead,
      tablesWritten,
    ),
    ...(facts.prepares && {
      // The inner statement has no text of its own in the tree; it carries the PREPARE's text.
      prepares: { name: facts.prepares.name, inner: toClassifiedStatement(facts.prepares.inner, text) },
    }),
    ...(facts.executes !== undefined && { executes: facts.executes }),
    ...(facts.deallocates !== undefined && { deallocates: facts.deallocates }),
  };
}

/** The same classification carrying another text (a literal variant of the text it was made from). */
export function withText(statement: ClassifiedStatement, text: string): ClassifiedStatement {
  const prepares = statement.prepares && {
    name: statement.prepares.name,
    inner: withText(statement.prepares.inner, text),
  };
  return { ...statement, text, step: { ...statement.step, text }, ...(prepares && { prepares }) };
}

/** The pipeline's view of a statement; the record keeps the tables read and written as it always has. */
function statementStep(
  text: string,
  action: string,
  accesses: readonly Access[],
  facts: { readOnly: boolean; hasWhere: boolean },
  tablesRead: readonly string[],
  tablesWritten: readonly string[],
): OperationStep {
  const tableCount =
    tablesWritten.length === 0 ? new Set(tablesRead).size : new Set([...tablesRead, ...tablesWritten]).size;
  return {
    text,
    action,
    accesses,
    facts: { ...facts, tableCount, command: "" },
    recorded: { tablesRead, tablesWritten },
  };
}
