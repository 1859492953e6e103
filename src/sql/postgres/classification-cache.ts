/**
 * Two bounded caches (bounded-cache.ts) in front of the parser (classification sits on the hot path of every query):
 *  - exact: the full input text -> its Classification;
 *  - normalized: libpg-query's normalized text (every constant replaced by $n) -> the classification of a
 *    single-statement text, re-issued for any literal variant with that variant's own statement text.
 *
 * The second cache is sound only because the classifier never depends on the value of a constant, or says so
 * (`normalizable: false`, see statement-handlers.ts); test/sql/classification-cache.test.ts checks cached and
 * fresh results agree.
 * Multi-statement texts use only the exact cache (their statement boundaries move with the literals).
 */
import { BoundedCache } from "../bounded-cache.js";
import type { Classification } from "../classification.js";
import { type ClassifyFresh, withText } from "./classify-statement.js";
import { literalSkeleton } from "./literal-skeleton.js";
import { isSqlParserLoaded, normalizeSql } from "./load-parser.js";
import type { StatementSpan } from "./statement-text.js";

/** Texts longer than this are classified every time instead of pinning large strings in memory. */
const MAX_CACHED_TEXT = 16 * 1024;

interface Template {
  readonly classification: Classification & { ok: true };
  readonly span: StatementSpan;
}

export interface CacheStats {
  exactHits: number;
  normalizedHits: number;
  /** Normalized-cache hits found through the literal skeleton, without calling libpg-query. */
  skeletonHits: number;
  misses: number;
}

export interface CachedClassifier {
  classify(text: string): Classification;
  readonly stats: Readonly<CacheStats>;
}

export function createCachedClassifier(fresh: ClassifyFresh, capacity: number): CachedClassifier {
  const exact = new BoundedCache<string, Classification>(capacity);
  const normalized = new BoundedCache<string, Template>(capacity);
  /** Literal skeleton -> template, stored only once the skeleton was checked against libpg-query's key. */
  const skeletons = new BoundedCache<string, Template>(capacity);
  const stats: CacheStats = { exactHits: 0, normalizedHits: 0, skeletonHits: 0, misses: 0 };

  function fromTemplate(template: Template, text: string): Classification {
    const [statement] = template.classification.statements;
    if (statement === undefined) return template.classification;
    // Constants sit only inside the statement, so what surrounds it is the same in every variant.
    const own = text.slice(template.span.prefix, text.length - template.span.suffix);
    return { ok: true, statements: [withText(statement, own)] };
  }

  return {
    stats,
    classify(text) {
      // Nothing is cached before the parser is loaded (that failure is temporary) or for very long texts.
      if (capacity <= 0 || text.length > MAX_CACHED_TEXT || !isSqlParserLoaded()) {
        stats.misses++;
        return fresh(text).classification;
      }
      const known = exact.get(text);
      if (known !== undefined) {
        stats.exactHits++;
        return known;
      }
      const skeleton = literalSkeleton(text);
      const checked = skeleton === undefined ? undefined : skeletons.get(skeleton.key);
      if (checked !== undefined) {
        // Not put in the exact cache: literal variants are mostly seen once, and this lookup is as cheap.
        stats.normalizedHits++;
        stats.skeletonHits++;
        return fromTemplate(checked, text);
      }
      const key = normalizeSql(text);
      // The skeleton stands for this key only if libpg-query replaced exactly the integers it replaced.
      const skeletonKey = skeleton !== undefined && key === skeleton.normalized ? skeleton.key : undefined;
      const template = key === undefined ? undefined : normalized.get(key);
      if (template !== undefined) {
        stats.normalizedHits++;
        if (skeletonKey !== undefined) skeletons.set(skeletonKey, template);
        const result = fromTemplate(template, text);
        exact.set(text, result);
        return result;
      }
      stats.misses++;
      const { classification, singleSpan, normalizable } = fresh(text);
      exact.set(text, classification);
      if (key !== undefined && classification.ok && singleSpan !== undefined && normalizable) {
        const made = { classification, span: singleSpan };
        normalized.set(key, made);
        if (skeletonKey !== undefined) skeletons.set(skeletonKey, made);
      }
      return classification;
    },
  };
}
