/**
 * The MySQL parser choice (issue 15), measured: sqlparser-rs (MySQL dialect, WASM, @guanmingchiu/sqlparser-ts)
 * against node-sql-parser (MySQL grammar), on the real-statement corpus of test/sql/mysql/statement-corpus.ts.
 * Coverage = statements parsed without error; speed = mean microseconds per statement over repeated passes.
 * Run: node --import tsx bench/mysql-parsers.ts
 */
import { init, parse } from "@guanmingchiu/sqlparser-ts";
import nodeSqlParser from "node-sql-parser";
import { MYSQL_STATEMENTS } from "../test/sql/mysql/statement-corpus.js";

export interface ParserRow {
  readonly parser: string;
  readonly parsed: number;
  readonly total: number;
  readonly coverage: string;
  readonly usPerStatement: number;
  readonly failures: readonly string[];
}

function measure(name: string, tryParse: (sql: string) => void, passes: number): ParserRow {
  const failures: string[] = [];
  for (const sql of MYSQL_STATEMENTS) {
    try {
      tryParse(sql);
    } catch {
      failures.push(sql);
    }
  }
  const ok = MYSQL_STATEMENTS.filter((s) => !failures.includes(s));
  const started = performance.now();
  for (let i = 0; i < passes; i++) for (const sql of ok) tryParse(sql);
  const us = ((performance.now() - started) * 1000) / (passes * Math.max(1, ok.length));
  return {
    parser: name,
    parsed: ok.length,
    total: MYSQL_STATEMENTS.length,
    coverage: `${((100 * ok.length) / MYSQL_STATEMENTS.length).toFixed(1)}%`,
    usPerStatement: Math.round(us * 10) / 10,
    failures,
  };
}

export async function runMysqlParserBench(passes = 20): Promise<ParserRow[]> {
  await init();
  const nsp = new nodeSqlParser.Parser();
  return [
    measure(
      "@guanmingchiu/sqlparser-ts (sqlparser-rs 0.62, mysql dialect)",
      (sql) => void parse(sql, "mysql"),
      passes,
    ),
    measure("node-sql-parser (MySQL grammar)", (sql) => void nsp.astify(sql, { database: "MySQL" }), passes),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await runMysqlParserBench()) {
    console.log(
      `${row.parser}: ${row.parsed}/${row.total} (${row.coverage}), ${row.usPerStatement} us/statement`,
    );
    for (const failure of row.failures) console.log(`  not parsed: ${failure}`);
  }
}
