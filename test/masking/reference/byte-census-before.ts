// src/masking/byte-census.ts as it was before the second issue-12 pass (commit fda9b61), kept as the oracle of
// span-finder.differential.test.ts: the rewritten one must answer the same.
/**
 * The byte census detectors look at before any regular expression runs: a cheap count of a value's byte
 * classes and digit shapes, so that the common value (a name, an id, a timestamp) never reaches a pattern it
 * cannot match.
 */

/**
 * Counts and shapes gathered from a value's bytes; detectors declare which of them they need. The shapes are
 * necessary conditions read off the patterns in detectors.ts (digit groups and the separators between them),
 * so a timestamp such as 2024-05-17 12:34:56 rules out cards, SSNs and phone numbers without running a regex.
 * The shapes are followed only in values with enough digits for one (see takeCensus); otherwise 0/false.
 */
export interface ByteCensus {
  length: number;
  digits: number;
  upper: number;
  at: number;
  dots: number;
  dashes: number;
  underscores: number;
  /** Lower-case x: a Slack token starts with "xox". */
  lowerX: number;
  /** Bytes >= 0x80: zero means the value is ASCII, so byte offsets and string offsets are the same. */
  nonAscii: number;
  /** Most digits in one chain of digits joined by single spaces or dashes (a card is 13-19 of them). */
  longestCardChain: number;
  /** A chain joined by single spaces or dashes holds digit groups of 3, 2 and at least 4 in a row (an SSN). */
  ssnShape: boolean;
  /** A chain joined by single spaces, dots or dashes holds digit groups of 3, 3 and at least 4 in a row. */
  phoneShape: boolean;
  /** Most digits in one run of phone characters (digits, space . - ( ) +) that holds a + or a (. */
  longestPrefixedPhoneRun: number;
}

// Byte classes, looked up once per byte.
// 0: any other byte (the table default).
const DIGIT = 1;
const UPPER = 2;
const AT = 3;
const DOT = 4;
const DASH = 5;
const UNDERSCORE = 6;
const SPACE = 7;
const PLUS = 8;
const PAREN = 9;
const NON_ASCII = 10;
const LOWER_X = 11;

const BYTE_CLASS = (() => {
  const table = new Uint8Array(256);
  for (let b = 0x30; b <= 0x39; b++) table[b] = DIGIT;
  for (let b = 0x41; b <= 0x5a; b++) table[b] = UPPER;
  table[0x40] = AT;
  table[0x2e] = DOT;
  table[0x2d] = DASH;
  table[0x5f] = UNDERSCORE;
  table[0x20] = SPACE;
  table[0x2b] = PLUS;
  table[0x28] = PAREN;
  table[0x29] = PAREN;
  table[0x78] = LOWER_X;
  for (let b = 0x80; b <= 0xff; b++) table[b] = NON_ASCII;
  return table;
})();

/** Every digit shape needs at least this many digits (an SSN 3+2+4; a card 13, a phone number 10). */
const MIN_SHAPE_DIGITS = 9;
/** Bytes per class of the value being counted; reused (takeCensus is synchronous). */
const classCounts = new Int32Array(LOWER_X + 1);

/**
 * Fills `census` from bytes [start, end) of `bytes`. Most values (names, ids, short numbers, e-mail addresses)
 * hold fewer digits than any digit shape needs, so a first pass only counts byte classes, and the digit chains
 * are followed only when there are enough digits for one; below that every shape is 0/false, which is exact
 * for the question the detectors ask (each shape needs MIN_SHAPE_DIGITS digits or more).
 */
export function takeCensus(bytes: Uint8Array, start: number, end: number, census: ByteCensus): ByteCensus {
  const counts = classCounts;
  counts.fill(0);
  for (let i = start; i < end; i++) counts[BYTE_CLASS[bytes[i]!]!]!++;
  if (counts[DIGIT]! >= MIN_SHAPE_DIGITS) return takeShapedCensus(bytes, start, end, census);
  census.length = end - start;
  census.digits = counts[DIGIT]!;
  census.upper = counts[UPPER]!;
  census.at = counts[AT]!;
  census.dots = counts[DOT]!;
  census.dashes = counts[DASH]!;
  census.underscores = counts[UNDERSCORE]!;
  census.lowerX = counts[LOWER_X]!;
  census.nonAscii = counts[NON_ASCII]!;
  census.longestCardChain = 0;
  census.ssnShape = false;
  census.phoneShape = false;
  census.longestPrefixedPhoneRun = 0;
  return census;
}

/** The whole census, digit chains included, in one pass. */
function takeShapedCensus(bytes: Uint8Array, start: number, end: number, census: ByteCensus): ByteCensus {
  let digits = 0;
  let upper = 0;
  let at = 0;
  let dots = 0;
  let dashes = 0;
  let underscores = 0;
  let lowerX = 0;
  let nonAscii = 0;
  // Chain joined by [ -] (card, SSN): digits so far, the current group, the two groups before it.
  let cardChain = 0;
  let longestCardChain = 0;
  let cardGroup = 0;
  let cardPrev1 = 0;
  let cardPrev2 = 0;
  let cardSeparated = false;
  let ssnShape = false;
  // Chain joined by [ .-] (phone numbers without + or parentheses).
  let phoneGroup = 0;
  let phonePrev1 = 0;
  let phonePrev2 = 0;
  let phoneSeparated = false;
  let phoneShape = false;
  // Run of phone characters: its digits and whether it holds a + or a (.
  let runDigits = 0;
  let runPrefixed = false;
  let longestPrefixedPhoneRun = 0;
  for (let i = start; i < end; i++) {
    const kind = BYTE_CLASS[bytes[i]!]!;
    if (kind === DIGIT) {
      digits++;
      runDigits++;
      if (cardGroup > 0) cardGroup++;
      else {
        if (!cardSeparated) {
          cardChain = 0;
          cardPrev1 = 0;
          cardPrev2 = 0;
        }
        cardGroup = 1;
        cardSeparated = false;
      }
      cardChain++;
      if (cardChain > longestCardChain) longestCardChain = cardChain;
      if (phoneGroup > 0) phoneGroup++;
      else {
        if (!phoneSeparated) {
          phonePrev1 = 0;
          phonePrev2 = 0;
        }
        phoneGroup = 1;
        phoneSeparated = false;
      }
      continue;
    }
    if (kind === UPPER) upper++;
    else if (kind === AT) at++;
    else if (kind === DOT) dots++;
    else if (kind === DASH) dashes++;
    else if (kind === UNDERSCORE) underscores++;
    else if (kind === LOWER_X) lowerX++;
    else if (kind === NON_ASCII) nonAscii++;
    // Card / SSN chain: one space or dash after a digit group keeps the chain; anything else ends it.
    if (cardGroup > 0) {
      if (cardPrev2 === 3 && cardPrev1 === 2 && cardGroup >= 4) ssnShape = true;
      cardPrev2 = cardPrev1;
      cardPrev1 = cardGroup;
      cardGroup = 0;
      cardSeparated = kind === SPACE || kind === DASH;
    } else cardSeparated = false;
    if (phoneGroup > 0) {
      if (phonePrev2 === 3 && phonePrev1 === 3 && phoneGroup >= 4) phoneShape = true;
      phonePrev2 = phonePrev1;
      phonePrev1 = phoneGroup;
      phoneGroup = 0;
      phoneSeparated = kind === SPACE || kind === DASH || kind === DOT;
    } else phoneSeparated = false;
    if (kind === SPACE || kind === DOT || kind === DASH || kind === PAREN || kind === PLUS) {
      if (kind === PLUS || kind === PAREN) runPrefixed = true;
    } else {
      if (runPrefixed && runDigits > longestPrefixedPhoneRun) longestPrefixedPhoneRun = runDigits;
      runDigits = 0;
      runPrefixed = false;
    }
  }
  if (cardGroup > 0 && cardPrev2 === 3 && cardPrev1 === 2 && cardGroup >= 4) ssnShape = true;
  if (phoneGroup > 0 && phonePrev2 === 3 && phonePrev1 === 3 && phoneGroup >= 4) phoneShape = true;
  if (runPrefixed && runDigits > longestPrefixedPhoneRun) longestPrefixedPhoneRun = runDigits;
  census.length = end - start;
  census.digits = digits;
  census.upper = upper;
  census.at = at;
  census.dots = dots;
  census.dashes = dashes;
  census.underscores = underscores;
  census.lowerX = lowerX;
  census.nonAscii = nonAscii;
  census.longestCardChain = longestCardChain;
  census.ssnShape = ssnShape;
  census.phoneShape = phoneShape;
  census.longestPrefixedPhoneRun = longestPrefixedPhoneRun;
  return census;
}

export function censusOf(text: string): ByteCensus {
  const bytes = Buffer.from(text, "utf8");
  return takeCensus(bytes, 0, bytes.length, emptyCensus());
}

export function emptyCensus(): ByteCensus {
  return {
    length: 0,
    digits: 0,
    upper: 0,
    at: 0,
    dots: 0,
    dashes: 0,
    underscores: 0,
    lowerX: 0,
    nonAscii: 0,
    longestCardChain: 0,
    ssnShape: false,
    phoneShape: false,
    longestPrefixedPhoneRun: 0,
  };
}
