import { beforeAll, describe, expect, it } from "vitest";
import { previewRefusal } from "../../../src/protocols/postgres/preview-side-effects.js";
import type { StatementClassifier } from "../../../src/sql/classification.js";
import { createStatementClassifier, loadSqlParser } from "../../../src/sql/postgres/create-classifier.js";

/** Which statements a rolled-back run rehearses faithfully, judged on the real classifier's facts. */

let classifier: StatementClassifier;
beforeAll(async () => {
  await loadSqlParser();
  classifier = createStatementClassifier({ dangerousFunctions: [], safeFunctions: [] });
});

function refusal(sql: string): string | undefined {
  const classified = classifier.classify(sql);
  if (!classified.ok) throw new Error(classified.reason);
  return previewRefusal(classified.statements[0]!);
}

describe("preview refusals", () => {
  it("previews plain writes, also inside a WITH", () => {
    expect(refusal("UPDATE orders SET total = total + 1 WHERE id < 10")).toBeUndefined();
    expect(refusal("DELETE FROM orders WHERE created < now() - interval '1 year'")).toBeUndefined();
    expect(refusal("INSERT INTO orders (id, total) VALUES (1, 2)")).toBeUndefined();
    expect(
      refusal("WITH gone AS (DELETE FROM orders WHERE id = 1 RETURNING *) SELECT count(*) FROM gone"),
    ).toBeUndefined();
  });

  it("refuses what escapes the transaction, naming it", () => {
    expect(refusal("UPDATE orders SET id = nextval('orders_id_seq') WHERE id = 1")).toMatch(
      /nextval\(\).*sequence/,
    );
    expect(refusal("INSERT INTO orders SELECT setval('s', 1), 2")).toMatch(/setval/);
    expect(refusal("UPDATE orders SET total = 1 WHERE pg_notify('c', 'x') IS NULL")).toMatch(/notification/);
    expect(refusal("UPDATE orders SET total = 1 WHERE pg_try_advisory_lock(1)")).toMatch(/advisory locks/);
    expect(
      refusal("DELETE FROM orders WHERE id IN (SELECT x FROM dblink('db', 'select 1') AS t(x int))"),
    ).toMatch(/dblink/);
    expect(refusal("UPDATE orders SET total = public.recalculate(id) WHERE id = 1")).toMatch(
      /public\.recalculate.*cannot see/,
    );
  });

  it("refuses statements that are not row changes, saying why", () => {
    expect(refusal("NOTIFY deployments, 'v2'")).toMatch(/NOTIFY/);
    expect(refusal("COPY orders FROM PROGRAM 'cat /etc/passwd'")).toMatch(/COPY/);
    expect(refusal("VACUUM orders")).toMatch(/cannot run inside a transaction/);
    expect(refusal("CREATE INDEX CONCURRENTLY i ON orders (id)")).toMatch(/CONCURRENTLY/);
    expect(refusal("SELECT * FROM orders")).toMatch(/writes no table/);
    expect(refusal("TRUNCATE orders")).toMatch(/only INSERT, UPDATE, DELETE and MERGE/);
  });
});
