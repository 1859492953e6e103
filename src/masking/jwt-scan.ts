/**
 * The JWT detector's search without the regex engine's quadratic retry. As one regex, every `eyJ` after a
 * non-word character (`-eyJ-eyJ-eyJ…`) started a scan to the end of the same run of token characters, and
 * each failed on the missing dot: a 16 KB value cost ~0.3 s, 64 KB several seconds. Every start inside one
 * run of token characters ends its first segment at that run's end and sees the same rest, with a shorter
 * first segment, so when the run's first start fails, every later start in the run fails too: the search
 * goes on after the run. The spans are the regex's (test/masking/jwt-scan.test.ts compares the two).
 */

const TOKEN = /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/y;

function isTokenCharacter(code: number): boolean {
  return isWordCharacter(code) || code === 0x2d; // -
}

function isWordCharacter(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x5f
  );
}

/** The first token in `text` starting at or after `from`, as [start, end), or undefined. */
export function nextJwt(text: string, from: number): readonly [number, number] | undefined {
  let start = text.indexOf("eyJ", from);
  while (start !== -1) {
    // `\b` before "eyJ": the character before is not a word character (or there is none).
    if (start === 0 || !isWordCharacter(text.charCodeAt(start - 1))) {
      TOKEN.lastIndex = start;
      if (TOKEN.exec(text) !== null) return [start, TOKEN.lastIndex];
      let runEnd = start + 3;
      while (runEnd < text.length && isTokenCharacter(text.charCodeAt(runEnd))) runEnd++;
      start = text.indexOf("eyJ", runEnd);
    } else start = text.indexOf("eyJ", start + 1);
  }
  return undefined;
}
