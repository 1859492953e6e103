/**
 * The MySQL classifier: classify-statement.ts behind two bounded caches (recently used entries stay), as the
 * PostgreSQL classifier has (src/sql/postgres/classification-cache.ts):
 *  - exact: database + the exact text -> its classification, handed back as the same object, so a repeated text
 *    costs one lookup and the policy engine's admission memo (keyed by the step object) answers for it too;
 *  - shape: database + every statement's shape (literals blanked, statement-text.ts) -> the classification of
 *    the first text of that shape, re-issued for a literal variant with that variant's own texts.
 * What the classification reads besides the text: the database unqualified names resolve to (in both keys),
 * and the lexer modes (fixed per classifier; the session refuses `SET sql_mode` and the upstream login refuses
 * a server whose sql_mode has ANSI_QUOTES or NO_BACKSLASH_ESCAPES, see upstream.ts). Call (and await)
 * loadMysqlParser() once first; until then every text fails closed and nothing is cached.
 */
import { BoundedCache } from "../bounded-cache.js";
import type { StatementClassifier } from "../classification.js";
import { classifySlices, type MysqlClassification, withTexts } from "./classify-statement.js";
import { isMysqlParserLoaded } from "./load-parser.js";
import { type LexerModes, splitStatements } from "./statement-text.js";

export type { MysqlClassification, MysqlClassifiedStatement } from "./classify-statement.js";
export { loadMysqlParser } from "./load-parser.js";

export interface MysqlClassifier {
  classify(text: string, database: string): MysqlClassification;
  /** The shared interface, for a fixed current database. */
  forDatabase(database: string): StatementClassifier;
}

/** Statements whose verdict depends on a literal's value: cached by exact text only. */
const LITERAL_SENSITIVE = new Set(["PREPARE", "SET"]);
/** Texts longer than this are classified every time instead of pinning large strings in memory. */
const MAX_CACHED_TEXT = 16 * 1024;
const FIRST_WORD = /^[\s(]*([A-Za-z_]+)/;

export function createMysqlClassifier(
  options: { cacheSize?: number; modes?: LexerModes } = {},
): MysqlClassifier {
  const limit = options.cacheSize ?? 5000;
  const exact = new BoundedCache<string, MysqlClassification>(limit);
  const shapes = new BoundedCache<string, MysqlClassification>(limit);
  const classify = (text: string, database: string): MysqlClassification => {
    try {
      // The database's length first: no database and text can make the key of another pair.
      const scope = `${database.length}:${database}\u0000`;
      const cacheable = limit > 0 && text.length <= MAX_CACHED_TEXT && isMysqlParserLoaded();
      const exactKey = cacheable ? scope + text : "";
      const known = cacheable ? exact.get(exactKey) : undefined;
      if (known !== undefined) return known;
      const split = splitStatements(text, options.modes);
      if (!split.ok) return { ok: false, failure: "unparseable", reason: split.reason };
      const byShape = split.statements.every(
        (s) => !LITERAL_SENSITIVE.has(FIRST_WORD.exec(s.code)?.[1]?.toUpperCase() ?? ""),
      );
      const shapeKey =
        cacheable && byShape ? scope + split.statements.map((s) => s.shape).join("\u0000;") : "";
      const template = shapeKey === "" ? undefined : shapes.get(shapeKey);
      let result: MysqlClassification;
      if (template === undefined) {
        result = classifySlices(split.statements, database, options.modes);
        if (shapeKey !== "") shapes.set(shapeKey, result);
      } else
        result = template.ok
          ? {
              ok: true,
              statements: withTexts(
                template.statements,
                split.statements.map((s) => s.text),
              ),
            }
          : template;
      if (cacheable) exact.set(exactKey, result);
      return result;
    } catch (error) {
      return { ok: false, failure: "unparseable", reason: `classifier fault: ${(error as Error).message}` };
    }
  };
  return { classify, forDatabase: (database) => ({ classify: (text) => classify(text, database) }) };
}
