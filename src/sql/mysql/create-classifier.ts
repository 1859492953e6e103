/**
 * The MySQL classifier: classify-statement.ts behind a small LRU cache keyed by database and text. Call (and
 * await) loadMysqlParser() once first; until then every text fails closed.
 */
import type { StatementClassifier } from "../classification.js";
import { classifySlices, type MysqlClassification, withTexts } from "./classify-statement.js";
import { type LexerModes, leadingWords, splitStatements } from "./statement-text.js";

export type { MysqlClassification, MysqlClassifiedStatement } from "./classify-statement.js";
export { loadMysqlParser } from "./load-parser.js";

export interface MysqlClassifier {
  classify(text: string, database: string): MysqlClassification;
  /** The shared interface, for a fixed current database. */
  forDatabase(database: string): StatementClassifier;
}

/** Statements whose verdict depends on a literal's value: cached by exact text only. */
const LITERAL_SENSITIVE = new Set(["PREPARE", "SET"]);

export function createMysqlClassifier(
  options: { cacheSize?: number; modes?: LexerModes } = {},
): MysqlClassifier {
  const limit = options.cacheSize ?? 5000;
  const cache = new Map<string, MysqlClassification>();
  const remember = (key: string, result: MysqlClassification) => {
    if (limit === 0) return;
    cache.set(key, result);
    if (cache.size > limit) cache.delete(cache.keys().next().value!);
  };
  const lookup = (key: string): MysqlClassification | undefined => {
    const hit = cache.get(key);
    if (hit !== undefined) {
      cache.delete(key);
      cache.set(key, hit);
    }
    return hit;
  };
  const classify = (text: string, database: string): MysqlClassification => {
    try {
      const split = splitStatements(text, options.modes);
      if (!split.ok) return { ok: false, failure: "unparseable", reason: split.reason };
      const byShape = split.statements.every((s) => !LITERAL_SENSITIVE.has(leadingWords(s.code, 1)[0] ?? ""));
      const key = `${database}\u0000${byShape ? split.statements.map((s) => s.shape).join("\u0000;") : `=${text}`}`;
      const hit = lookup(key);
      if (hit !== undefined)
        return hit.ok
          ? {
              ok: true,
              statements: withTexts(
                hit.statements,
                split.statements.map((s) => s.text),
              ),
            }
          : hit;
      const result = classifySlices(split.statements, database, options.modes);
      remember(key, result);
      return result;
    } catch (error) {
      return { ok: false, failure: "unparseable", reason: `classifier fault: ${(error as Error).message}` };
    }
  };
  return { classify, forDatabase: (database) => ({ classify: (text) => classify(text, database) }) };
}
