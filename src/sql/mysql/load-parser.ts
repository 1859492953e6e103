/** sqlparser-rs (MySQL dialect) compiled to WASM: load once, then parse synchronously. */
import { init, parse } from "@guanmingchiu/sqlparser-ts";

let loaded: Promise<void> | undefined;
let ready = false;

export function loadMysqlParser(): Promise<void> {
  loaded ??= init().then(() => {
    ready = true;
  });
  return loaded;
}

/** False until loadMysqlParser() resolved: until then every text fails closed, and nothing may be cached. */
export function isMysqlParserLoaded(): boolean {
  return ready;
}

export type Parsed =
  | { readonly ok: true; readonly statements: unknown[] }
  | { readonly ok: false; readonly reason: string };

export function parseMysql(code: string): Parsed {
  if (!ready) return { ok: false, reason: "the MySQL parser is not loaded" };
  try {
    return { ok: true, statements: parse(code, "mysql") as unknown[] };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}
