/**
 * The MySQL classifier: classify-statement.ts behind two bounded caches (recently used entries stay), as the
 * PostgreSQL classifier has (src/sql/postgres/classification-cache.ts):
 *  - exact: the exact text, within the database -> its classification, handed back as the same object, so a
 *    repeated text costs one Map lookup of the string the client sent (scoped-cache.ts: the database is the
 *    scope, not part of a key built per statement) and the policy engine's admission memo (keyed by the step
 *    object) answers for it too; it holds the texts that were classified in full (the first of each shape, and
 *    those whose verdict depends on a literal), not the literal variants re-issued from the shape cache;
 *  - shape: every statement's shape (literals blanked, statement-text.ts), within the database -> the
 *    classification of the first text of that shape, re-issued for a literal variant with its own texts (the
 *    memo keys on the accesses and facts a variant shares with it, see src/policy/step-memo.ts).
 * What the classification reads besides the text: the database unqualified names resolve to (in both keys),
 * and the lexer modes (fixed per classifier; the session refuses `SET sql_mode` and the upstream login refuses
 * a server whose sql_mode has ANSI_QUOTES or NO_BACKSLASH_ESCAPES, see upstream.ts). Call (and await)
 * loadMysqlParser() once first; until then every text fails closed and nothing is cached.
 */
import type { StatementClassifier } from "../classification.js";
import { classifySlices, type MysqlClassification, withTexts } from "./classify-statement.js";
import { isMysqlParserLoaded } from "./load-parser.js";
import { ScopedCache } from "./scoped-cache.js";
import { firstWordIs, type LexerModes, type StatementSlice, splitStatements } from "./statement-text.js";

export type { MysqlClassification, MysqlClassifiedStatement } from "./classify-statement.js";
export { loadMysqlParser } from "./load-parser.js";

export interface MysqlClassifier {
  classify(text: string, database: string): MysqlClassification;
  /** The shared interface, for a fixed current database. */
  forDatabase(database: string): StatementClassifier;
}

const textsOf = (statements: readonly StatementSlice[]): string[] => statements.map((s) => s.text);

/** Texts longer than this are classified every time instead of pinning large strings in memory. */
const MAX_CACHED_TEXT = 16 * 1024;

/** Statements whose verdict depends on a literal's value (by their first word): cached by exact text only. */
const literalSensitive = (code: string): boolean => firstWordIs(code, "SET") || firstWordIs(code, "PREPARE");

export function createMysqlClassifier(
  options: { cacheSize?: number; modes?: LexerModes } = {},
): MysqlClassifier {
  const limit = options.cacheSize ?? 5000;
  // Both keyed by text (or shape) within the database (scoped-cache.ts): no key is built per statement.
  const exact = new ScopedCache<MysqlClassification>(limit);
  const shapes = new ScopedCache<MysqlClassification>(limit);
  const classify = (text: string, database: string): MysqlClassification => {
    try {
      const cacheable = limit > 0 && text.length <= MAX_CACHED_TEXT && isMysqlParserLoaded();
      const known = cacheable ? exact.get(text, database) : undefined;
      if (known !== undefined) return known;
      const split = splitStatements(text, options.modes);
      if (!split.ok) return { ok: false, failure: "unparseable", reason: split.reason };
      const statements = split.statements;
      // Shapes hold no NUL (splitStatements refuses it), so a joined key is never one statement's shape.
      const shapeKey =
        !cacheable || statements.some((s) => literalSensitive(s.code))
          ? undefined
          : statements.length === 1
            ? statements[0]!.shape
            : statements.map((s) => s.shape).join("\u0000;");
      const template = shapeKey === undefined ? undefined : shapes.get(shapeKey, database);
      if (template !== undefined)
        // A literal variant is re-issued, not kept: the exact cache would hold every variant's classification
        // (sysbench: every id) through the young generation's collections into the old one, and the garbage
        // collector's copying and marking of them cost 2-4x what re-issuing saves (docs/benchmarks.md, stop 28).
        return template.ok
          ? { ok: true, statements: withTexts(template.statements, textsOf(statements)) }
          : template;
      const result = classifySlices(statements, database, options.modes);
      if (shapeKey !== undefined) shapes.set(shapeKey, database, result);
      if (cacheable) exact.set(text, database, result);
      return result;
    } catch (error) {
      return { ok: false, failure: "unparseable", reason: `classifier fault: ${(error as Error).message}` };
    }
  };
  return { classify, forDatabase: (database) => ({ classify: (text) => classify(text, database) }) };
}
