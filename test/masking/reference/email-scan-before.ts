// src/masking/email-scan.ts as it was before the second issue-12 pass (commit fda9b61), kept as the oracle of
// span-finder.differential.test.ts: the rewritten one must answer the same.
/**
 * The e-mail detector's search, without the regex engine's quadratic retry. `local@domain` as one regex
 * (`[A-Za-z0-9._%+-]+@…`) is retried from every position of a long run of local-part characters that ends in
 * no `@`: a 64 KB value held the event loop for ~20 s. Here each `@` is found once, the local part is the run
 * of local characters just before it (never reaching back before where the search started, as the regex
 * would not), and the domain is matched once, sticky, right after it. Every character is looked at a bounded
 * number of times, and the spans are the ones the single regex finds (test/masking/email-scan.test.ts holds
 * the two to the same answers).
 */

/** The domain as the single regex had it: labels, then a dot and a top-level label of 2+ letters. */
const DOMAIN = /[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/y;

function isLocalCharacter(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2e || // .
    code === 0x5f || // _
    code === 0x25 || // %
    code === 0x2b || // +
    code === 0x2d // -
  );
}

/** The first address in `text` that starts at or after `from`, as [start, end), or undefined. */
export function nextEmail(text: string, from: number): readonly [number, number] | undefined {
  for (let at = text.indexOf("@", from); at !== -1; at = text.indexOf("@", at + 1)) {
    let start = at;
    while (start > from && isLocalCharacter(text.charCodeAt(start - 1))) start--;
    if (start === at) continue;
    DOMAIN.lastIndex = at + 1;
    const domain = DOMAIN.exec(text);
    if (domain !== null) return [start, DOMAIN.lastIndex];
  }
  return undefined;
}
