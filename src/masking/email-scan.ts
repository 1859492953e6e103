/**
 * The e-mail detector's search, without the regex engine's quadratic retry. `local@domain` as one regex
 * (`[A-Za-z0-9._%+-]+@…`) is retried from every position of a long run of local-part characters that ends in
 * no `@`: a 64 KB value held the event loop for ~20 s. Here each `@` is found once, the local part is the run
 * of local characters just before it (never reaching back before where the search started, as the regex
 * would not), and the domain is matched once, sticky, right after it. Every character is looked at a bounded
 * number of times, and the spans are the ones the single regex finds (test/masking/email-scan.test.ts holds
 * the two to the same answers).
 */

/**
 * Where the domain the single regex had (`[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`, from `from`) ends, or
 * -1, by char codes: no regex, no match object. The domain is a chain of labels (runs of [A-Za-z0-9-]) joined
 * by single dots; the regex's greedy labels give back whole labels until a later label starts with 2+ letters,
 * so the match ends after the letters that start the LAST such label past the first (backtracking inside a
 * label never helps: the next thing either part wants is a dot, found only where a label ends).
 */
function domainEnd(text: string, from: number): number {
  let end = -1;
  let i = from;
  for (let label = 0; ; label++) {
    const labelStart = i;
    while (i < text.length && isLetter(text.charCodeAt(i))) i++;
    if (label > 0 && i - labelStart >= 2) end = i;
    while (i < text.length && isLabelCharacter(text.charCodeAt(i))) i++;
    // An empty label ends the chain (the regex's + needs one character); so does anything but a dot.
    if (i === labelStart || i >= text.length || text.charCodeAt(i) !== 0x2e) return end;
    i++;
  }
}

function isLetter(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a);
}

function isLabelCharacter(code: number): boolean {
  return isLetter(code) || (code >= 0x30 && code <= 0x39) || code === 0x2d;
}

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
    const end = domainEnd(text, at + 1);
    if (end !== -1) return [start, end];
  }
  return undefined;
}

/**
 * nextEmail() on the bytes [from, end) of an ASCII value, for the masking hot path: no string decoded. The
 * address starts at the return value (-1: none) and ends at found[0]. Byte offsets are character offsets in
 * ASCII, so the spans are nextEmail's (test/masking/span-finder.differential.test.ts holds the two together).
 */
export function nextEmailInBytes(bytes: Uint8Array, from: number, end: number, found: number[]): number {
  // A loop rather than indexOf: values are short, and Buffer#indexOf is a call into C++ per value. The run of
  // local characters before each byte is followed on the way (a byte read costs more than the comparisons), so
  // the local part is not read again backwards from the @: it starts after the last other byte since `from`.
  let localStart = from;
  for (let at = from; at < end; at++) {
    const code = bytes[at]!;
    if (code !== 0x40) {
      if (!isLocalCharacter(code)) localStart = at + 1;
      continue;
    }
    const start = localStart;
    localStart = at + 1; // an @ is not a local character
    if (start === at) continue;
    const domain = domainEndInBytes(bytes, at + 1, end);
    if (domain !== -1) {
      found[0] = domain;
      return start;
    }
  }
  return -1;
}

/** domainEnd() on bytes [from, end). */
function domainEndInBytes(bytes: Uint8Array, from: number, end: number): number {
  let found = -1;
  let i = from;
  for (let label = 0; ; label++) {
    const labelStart = i;
    while (i < end && isLetter(bytes[i]!)) i++;
    if (label > 0 && i - labelStart >= 2) found = i;
    while (i < end && isLabelCharacter(bytes[i]!)) i++;
    if (i === labelStart || i >= end || bytes[i] !== 0x2e) return found;
    i++;
  }
}
