/**
 * A cheap stand-in for libpg-query's normalisation (~10 µs a call) for the texts simple-mode clients send
 * most: a statement whose only constants are small integers (`SELECT abalance FROM pgbench_accounts WHERE
 * aid = 48213`). `key` is the text with every such integer replaced by `$`; `normalized` is what libpg-query
 * must return for the text if, and only if, each replaced integer is a constant it replaces too (and nothing
 * else is): the classification cache stores a template under `key` only after checking exactly that on a text
 * it normalised anyway, so a later text with the same key differs from a checked one only in the values of
 * constants the classifier never looks at.
 *
 * Texts the scan cannot reason about are left to libpg-query (undefined): anything with a quote, a dollar
 * sign (parameters, dollar quoting; also what makes `$` free to be the placeholder), a backslash, a comment,
 * or a character outside printable ASCII. An integer touching a letter, digit or underscore (`t1`, `1e5`) or
 * longer than 9 digits (a constant that may no longer be an int4) stays as written.
 */
export interface LiteralSkeleton {
  readonly key: string;
  readonly normalized: string;
}

const MAX_DIGITS = 9;

export function literalSkeleton(text: string): LiteralSkeleton | undefined {
  let key = "";
  let normalized = "";
  let constants = 0;
  let copiedTo = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7e || (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d)) return undefined;
    if (code === 0x27 || code === 0x22 || code === 0x24 || code === 0x5c) return undefined; // ' " $ \
    if ((code === 0x2d || code === 0x2f) && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if ((code === 0x2d && next === 0x2d) || (code === 0x2f && next === 0x2a)) return undefined; // -- /*
    }
    if (!isDigit(code)) continue;
    let end = i + 1;
    while (end < text.length && isDigit(text.charCodeAt(end))) end++;
    const standalone =
      end - i <= MAX_DIGITS &&
      (i === 0 || !isWordChar(text.charCodeAt(i - 1))) &&
      (end === text.length || !isWordChar(text.charCodeAt(end)));
    if (standalone) {
      const between = text.slice(copiedTo, i);
      constants += 1;
      key += `${between}$`;
      normalized += `${between}$${constants}`;
      copiedTo = end;
    }
    i = end - 1;
  }
  if (constants === 0) return undefined;
  const rest = text.slice(copiedTo);
  return { key: key + rest, normalized: normalized + rest };
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isWordChar(code: number): boolean {
  return isDigit(code) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f;
}
