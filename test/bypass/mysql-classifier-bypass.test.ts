/** The MySQL evasions corpus against the classifier: each dangerous access is reported, or the text fails closed. */
import { beforeAll, describe, expect, it } from "vitest";
import {
  createMysqlClassifier,
  loadMysqlParser,
  type MysqlClassifier,
} from "../../src/sql/mysql/create-classifier.js";
import { FAILS_CLOSED, MYSQL_BYPASS_CASES } from "./mysql-corpus.js";

let classifier: MysqlClassifier;
let cached: MysqlClassifier;

beforeAll(async () => {
  await loadMysqlParser();
  classifier = createMysqlClassifier({ cacheSize: 0 });
  cached = createMysqlClassifier();
});

describe("MySQL classifier bypass corpus", () => {
  it("has at least 60 cases with unique names", () => {
    expect(MYSQL_BYPASS_CASES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(MYSQL_BYPASS_CASES.map((c) => c.name)).size).toBe(MYSQL_BYPASS_CASES.length);
  });

  for (const c of MYSQL_BYPASS_CASES) {
    it(c.name, () => {
      const result = classifier.classify(c.sql, "shop");
      // The cache (keyed by shape: literals blanked) must give the very same answer, first time and again.
      expect(cached.classify(c.sql, "shop")).toEqual(result);
      expect(cached.classify(c.sql, "shop")).toEqual(result);
      if (c.reports === FAILS_CLOSED) {
        expect(result.ok, JSON.stringify(result)).toBe(false);
        return;
      }
      expect(result.ok, JSON.stringify(result)).toBe(true);
      if (!result.ok) return;
      const reported = result.statements.flatMap((s) => [
        ...s.accesses.map((a) =>
          `${a.action} ${a.resource.type === "Connection" ? "" : a.resource.name}`.trim(),
        ),
        ...s.accesses.map((a) => a.action),
        ...(s.prepares
          ? s.prepares.inner.accesses.map((a) =>
              `${a.action} ${a.resource.type === "Connection" ? "" : a.resource.name}`.trim(),
            )
          : []),
      ]);
      expect(reported).toContain(c.reports);
    });
  }
});
