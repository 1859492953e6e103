/**
 * The MySQL classifier: classify-statement.ts behind a small LRU cache keyed by database and text. Call (and
 * await) loadMysqlParser() once first; until then every text fails closed.
 */
import type { StatementClassifier } from "../classification.js";
import { classifyMysql, type MysqlClassification } from "./classify-statement.js";
import type { LexerModes } from "./statement-text.js";

export type { MysqlClassification, MysqlClassifiedStatement } from "./classify-statement.js";
export { loadMysqlParser } from "./load-parser.js";

export interface MysqlClassifier {
  classify(text: string, database: string): MysqlClassification;
  /** The shared interface, for a fixed current database. */
  forDatabase(database: string): StatementClassifier;
}

export function createMysqlClassifier(
  options: { cacheSize?: number; modes?: LexerModes } = {},
): MysqlClassifier {
  const limit = options.cacheSize ?? 5000;
  const cache = new Map<string, MysqlClassification>();
  const classify = (text: string, database: string): MysqlClassification => {
    const key = `${database}\u0000${text}`;
    const hit = cache.get(key);
    if (hit !== undefined) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    let result: MysqlClassification;
    try {
      result = classifyMysql(text, database, options.modes);
    } catch (error) {
      result = { ok: false, failure: "unparseable", reason: `classifier fault: ${(error as Error).message}` };
    }
    if (limit > 0) {
      cache.set(key, result);
      if (cache.size > limit) cache.delete(cache.keys().next().value!);
    }
    return result;
  };
  return { classify, forDatabase: (database) => ({ classify: (text) => classify(text, database) }) };
}
