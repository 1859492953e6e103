/**
 * A sample for an UPDATE, which has no RETURNING in MySQL or MariaDB: inside the preview's transaction, before
 * the UPDATE runs, the primary keys of the first rows its WHERE matches are read with the statement's own
 * table reference and WHERE / ORDER BY / LIMIT; after it ran, those rows are read back by key. Only for a
 * single-table UPDATE whose text splits cleanly at top-level SET and WHERE, on a table with a primary key the
 * UPDATE does not assign and whose key columns are not binary; otherwise there is no sample and the request
 * says why. The WHERE read is the statement's own expression, already judged free of side effects.
 */
import type { AdminResult } from "./admin-client.js";
import { hexText } from "./preview-catalog.js";

type Query = (sql: string, keepRows?: number) => Promise<AdminResult>;

export interface UpdateParts {
  /** The table reference as written (`items`, `shop.items AS i`). */
  readonly table: string;
  readonly assignments: string;
  /** From the top-level WHERE, ORDER BY or LIMIT to the end; empty when there is none. */
  readonly tail: string;
}

const MODIFIERS = /^update\s+(?:(?:low_priority|ignore)\s+)*/i;

/** Splits `UPDATE ref SET ... [WHERE ...]` at its top-level keywords (outside quotes and parentheses). Pure. */
export function updateParts(code: string): UpdateParts | undefined {
  const head = MODIFIERS.exec(code);
  if (head === null) return undefined;
  const words = topLevelWords(code);
  const set = words.find((w) => w.word === "SET" && w.at >= head[0].length);
  if (set === undefined) return undefined;
  const end = words.find((w) => w.at > set.at && ["WHERE", "ORDER", "LIMIT"].includes(w.word));
  const table = code.slice(head[0].length, set.at).trim();
  // Several tables (a comma or a JOIN at top level): the rows changed cannot be read back from one table.
  if (table === "" || words.some((w) => w.at < set.at && (w.word === "," || w.word === "JOIN")))
    return undefined;
  return {
    table,
    assignments: code.slice(set.at + 3, end?.at ?? code.length),
    tail: end === undefined ? "" : code.slice(end.at).trim(),
  };
}

/** Upper-cased words and commas at parenthesis depth 0, with their offsets. */
function topLevelWords(code: string): { word: string; at: number }[] {
  const found: { word: string; at: number }[] = [];
  let depth = 0;
  for (let i = 0; i < code.length; i++) {
    const ch = code[i]!;
    if (ch === "'" || ch === '"' || ch === "`") {
      for (i++; i < code.length && code[i] !== ch; i++) if (code[i] === "\\" && ch !== "`") i++;
      continue;
    }
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (depth === 0 && ch === ",") found.push({ word: ",", at: i });
    else if (depth === 0 && /[A-Za-z_]/.test(ch) && (i === 0 || !/[\w$]/.test(code[i - 1]!))) {
      const match = /^[A-Za-z_][\w$]*/.exec(code.slice(i))!;
      found.push({ word: match[0].toUpperCase(), at: i });
      i += match[0].length - 1;
    }
  }
  return found;
}

const quoteIdentifier = (name: string) => `\`${name.replaceAll("`", "``")}\``;

/** The keys of the rows the UPDATE will match, or why there is no sample. */
export async function keysBeforeUpdate(
  query: Query,
  table: string,
  code: string,
  sampleRows: number,
): Promise<{ readonly read: () => Promise<AdminResult> } | { readonly why: string }> {
  const parts = updateParts(code);
  if (parts === undefined) return { why: "the UPDATE does not split into one table, SET and WHERE" };
  const { rows: keyColumns } = await query(
    `SELECT s.TABLE_SCHEMA, s.TABLE_NAME, s.COLUMN_NAME, c.DATA_TYPE FROM information_schema.STATISTICS s
       JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME
        AND c.COLUMN_NAME = s.COLUMN_NAME
     WHERE LOWER(CONCAT(s.TABLE_SCHEMA, '.', s.TABLE_NAME)) = ${hexText(table)} AND s.INDEX_NAME = 'PRIMARY'
     ORDER BY s.SEQ_IN_INDEX`,
  );
  if (keyColumns.length === 0) return { why: `${table} has no primary key to read the changed rows back by` };
  const names = keyColumns.map((row) => row[2] ?? "");
  if (keyColumns.some((row) => /binary|blob|bit|geometry/i.test(row[3] ?? "")))
    return { why: `the primary key of ${table} is binary, and its values cannot be read back as text` };
  const assigned = parts.assignments.toLowerCase().replaceAll("`", "");
  const key = names.find((name) =>
    new RegExp(`(^|[^\\w$])${escapeRegExp(name.toLowerCase())}\\s*=`).test(assigned),
  );
  if (key !== undefined) return { why: `the UPDATE assigns the primary key column ${key}` };
  const columns = names.map(quoteIdentifier).join(", ");
  const { rows: keys } = await query(
    `SELECT * FROM (SELECT ${columns} FROM ${parts.table} ${parts.tail}) AS latch_preview_keys LIMIT ${sampleRows}`,
  );
  const [schema, name] = [keyColumns[0]![0] ?? "", keyColumns[0]![1] ?? ""];
  return {
    read: () => {
      if (keys.length === 0) return Promise.resolve({ rows: [], affectedRows: 0, columns: [], rowCount: 0 });
      const tuples = keys.map((row) => `(${row.map((value) => hexText(value ?? "")).join(", ")})`);
      return query(
        `SELECT * FROM ${quoteIdentifier(schema)}.${quoteIdentifier(name)} WHERE (${columns}) IN (${tuples.join(", ")})`,
      );
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
