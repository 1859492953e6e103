/**
 * The one place that talks to libpg-query (the real PostgreSQL 18 parser compiled to WASM). The module must
 * be loaded once, asynchronously, before the synchronous classifier can parse anything.
 */
import { loadModule, normalizeSync, parseSync } from "libpg-query";

let loading: Promise<void> | undefined;
let loaded = false;

/** Loads the parser's WASM module once; later calls return the same promise. A failed load may be retried. */
export function loadSqlParser(): Promise<void> {
  loading ??= loadModule().then(
    () => {
      loaded = true;
    },
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

export function isSqlParserLoaded(): boolean {
  return loaded;
}

/** One statement of the input as the parser delimits it: UTF-8 byte offsets, length undefined = to the end. */
export interface RawStatement {
  readonly node: unknown;
  readonly byteStart: number;
  readonly byteLength: number | undefined;
}

export type ParseOutcome =
  | { readonly ok: true; readonly statements: readonly RawStatement[] }
  | { readonly ok: false; readonly reason: string };

export function parseSql(text: string): ParseOutcome {
  if (!loaded) return { ok: false, reason: "the SQL parser is not loaded yet" };
  try {
    const result = parseSync(text) as { stmts?: readonly Record<string, unknown>[] };
    const statements = (result.stmts ?? []).map((raw) => ({
      node: raw.stmt,
      byteStart: typeof raw.stmt_location === "number" ? raw.stmt_location : 0,
      // The parser leaves stmt_len out (0) for a statement that runs to the end of the text.
      byteLength: typeof raw.stmt_len === "number" && raw.stmt_len > 0 ? raw.stmt_len : undefined,
    }));
    return { ok: true, statements };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** The text with every constant replaced by $n, or undefined if it does not parse. */
export function normalizeSql(text: string): string | undefined {
  if (!loaded) return undefined;
  try {
    return normalizeSync(text);
  } catch {
    return undefined;
  }
}
