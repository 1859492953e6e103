/**
 * The PostgreSQL StatementClassifier: the real parser, a whole-tree walk, and a cache in front.
 * Call (and await) loadSqlParser() once before the first classify(); until then classify() fails closed.
 */
import type { Classification, StatementClassifier } from "../classification.js";
import { createCachedClassifier } from "./classification-cache.js";
import { createFreshClassifier } from "./classify-statement.js";

export { loadSqlParser } from "./load-parser.js";

export interface StatementClassifierOptions {
  /** Extra function names classified as sql:admin_function ("fn" in any schema, or "schema.fn"). */
  readonly dangerousFunctions?: string[];
  /** Extra function names that need no sql:function permission ("fn" unqualified/pg_catalog, or "schema.fn"). */
  readonly safeFunctions?: string[];
  /** Entries in each of the two LRU caches (exact text, normalized text); 0 disables caching. */
  readonly cacheSize?: number;
}

const DEFAULT_CACHE_SIZE = 5000;

export function createStatementClassifier(options: StatementClassifierOptions = {}): StatementClassifier {
  const fresh = createFreshClassifier({
    dangerousFunctions: options.dangerousFunctions ?? [],
    safeFunctions: options.safeFunctions ?? [],
  });
  const cached = createCachedClassifier(fresh, options.cacheSize ?? DEFAULT_CACHE_SIZE);
  return {
    classify(text: string): Classification {
      try {
        return cached.classify(text);
      } catch (error) {
        // Never throw into the session: an internal fault denies the statement like a parse error would.
        const reason = error instanceof Error ? error.message : String(error);
        return { ok: false, failure: "unparseable", reason: `classifier fault: ${reason}` };
      }
    },
  };
}
