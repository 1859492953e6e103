/**
 * The byte census detectors look at before any regular expression runs: a cheap count of a value's byte
 * classes and digit shapes, so that the common value (a name, an id, a timestamp) never reaches a pattern it
 * cannot match.
 */

/**
 * Counts and shapes gathered from a value's bytes; detectors declare which of them they need. The shapes are
 * necessary conditions read off the patterns in detectors.ts (digit groups and the separators between them),
 * so a timestamp such as 2024-05-17 12:34:56 rules out cards, SSNs and phone numbers without running a regex.
 * The shapes are followed only in runs of phone characters that can hold one (see takeShapes); otherwise
 * 0/false.
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
  /**
   * Most digits in one chain of digits joined by single spaces or dashes (a card is 13-19 of them); exact from
   * 13 on, the only question asked (a shorter chain may be counted as 0).
   */
  longestCardChain: number;
  /** A chain joined by single spaces or dashes holds digit groups of 3, 2 and at least 4 in a row (an SSN). */
  ssnShape: boolean;
  /** A chain joined by single spaces, dots or dashes holds digit groups of 3, 3 and at least 4 in a row. */
  phoneShape: boolean;
  /**
   * Most digits in one run of phone characters (digits, space . - ( ) +) that holds a + or a parenthesis; exact
   * from 10 on, the only question asked (a shorter run may be counted as 0).
   */
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
/**
 * The counted classes packed eight to an int32, 4 bits each: a byte adds its class's bit to one sum, so a value
 * is counted with one table lookup and one add per byte (a typed-array read costs about a dozen instructions,
 * more than the arithmetic) and no counter array to clear. A chunk of at most PACKED_CHUNK bytes keeps every
 * field at 15 or less (no carry into the next; the top field may set the sign bit, so sums wrap with | 0 and
 * are unpacked with >>>), and the chunk sums are unpacked into the totals.
 */
const PACKED_CHUNK = 15;
const PACKED = (() => {
  const table = new Int32Array(256);
  const shift: Record<number, number> = {
    [DIGIT]: 0,
    [UPPER]: 4,
    [AT]: 8,
    [DOT]: 12,
    [DASH]: 16,
    [UNDERSCORE]: 20,
    [LOWER_X]: 24,
    [NON_ASCII]: 28,
  };
  for (let b = 0; b < 256; b++) {
    const at = shift[BYTE_CLASS[b]!];
    if (at !== undefined) table[b] = (1 << at) | 0;
  }
  return table;
})();

/**
 * Fills `census` from bytes [start, end) of `bytes`. Most values (names, ids, short numbers, e-mail addresses)
 * hold fewer digits than any digit shape needs, so a first pass only counts byte classes, and the digit chains
 * are followed only when there are enough digits for one; below that every shape is 0/false, which is exact
 * for the question the detectors ask (each shape needs MIN_SHAPE_DIGITS digits or more).
 */
export function takeCensus(bytes: Uint8Array, start: number, end: number, census: ByteCensus): ByteCensus {
  let digits = 0;
  let upper = 0;
  let at = 0;
  let dots = 0;
  let dashes = 0;
  let underscores = 0;
  let lowerX = 0;
  let nonAscii = 0;
  for (let chunk = start; chunk < end; chunk += PACKED_CHUNK) {
    const chunkEnd = end - chunk > PACKED_CHUNK ? chunk + PACKED_CHUNK : end;
    let packed = 0;
    for (let i = chunk; i < chunkEnd; i++) packed = (packed + PACKED[bytes[i]!]!) | 0;
    digits += packed & 15;
    upper += (packed >>> 4) & 15;
    at += (packed >>> 8) & 15;
    dots += (packed >>> 12) & 15;
    dashes += (packed >>> 16) & 15;
    underscores += (packed >>> 20) & 15;
    lowerX += (packed >>> 24) & 15;
    nonAscii += packed >>> 28;
  }
  census.length = end - start;
  census.digits = digits;
  census.upper = upper;
  census.at = at;
  census.dots = dots;
  census.dashes = dashes;
  census.underscores = underscores;
  census.lowerX = lowerX;
  census.nonAscii = nonAscii;
  census.longestCardChain = 0;
  census.ssnShape = false;
  census.phoneShape = false;
  census.longestPrefixedPhoneRun = 0;
  if (digits >= MIN_SHAPE_DIGITS) takeShapes(bytes, start, end, census);
  return census;
}

/**
 * The digit shapes, followed only inside runs of phone characters (digits, space . - ( ) +) that can hold one.
 * Every chain and run the shapes measure lies inside one such run (any other byte ends them all and the state
 * after it is the initial one), so a run is followed only when it has the digits of a shape some detector asks
 * about: 13 in it (a card chain), 10 with a + or a parenthesis in it (a prefixed phone number), or 9 with a
 * group of exactly three digits ended by a space, dot or dash (an SSN's or a phone number's first group: both
 * shapes need one). A timestamp's "2024-05-17 12" (groups of 4, 2, 2, 2) and ":34:56.789+00" are only counted.
 * A run left out leaves longestCardChain under 13 and longestPrefixedPhoneRun under 10: exact where the
 * detectors ask (13 and 10 or more).
 */
function takeShapes(bytes: Uint8Array, start: number, end: number, census: ByteCensus): void {
  let runStart = start;
  let runDigits = 0;
  let group = 0;
  let prefixed = false;
  let groupOfThree = false;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    // Digits (most of the bytes here) by arithmetic: no table read for them.
    if (b <= 0x39 && b >= 0x30) {
      runDigits++;
      group++;
      continue;
    }
    const kind = SHAPE_CLASS[b]!;
    if (kind === SHAPE_OTHER) {
      if (holdsShape(runDigits, prefixed, groupOfThree)) followShapes(bytes, runStart, i, census);
      runStart = i + 1;
      runDigits = 0;
      prefixed = false;
      groupOfThree = false;
    } else if (kind === SHAPE_SEPARATOR) {
      if (group === 3) groupOfThree = true;
    } else prefixed = true;
    group = 0;
  }
  if (holdsShape(runDigits, prefixed, groupOfThree)) followShapes(bytes, runStart, end, census);
}

/** Can a run of phone characters with these facts hold a shape a detector asks about (see takeShapes)? */
function holdsShape(runDigits: number, prefixed: boolean, groupOfThree: boolean): boolean {
  return (
    runDigits >= CARD_DIGITS ||
    (prefixed && runDigits >= PHONE_DIGITS) ||
    (groupOfThree && runDigits >= MIN_SHAPE_DIGITS)
  );
}

/** mayHoldCard asks for a chain of 13 digits; mayHoldPhone for a prefixed run of 10. */
const CARD_DIGITS = 13;
const PHONE_DIGITS = 10;

// Shape classes: 0 ends a run of phone characters.
const SHAPE_OTHER = 0;
const SHAPE_DIGIT = 1;
/** Space . - : they join the digit groups of a card, an SSN or a phone number. */
const SHAPE_SEPARATOR = 2;
/** ( ) + : a prefixed phone number's. */
const SHAPE_PREFIX = 3;
const SHAPE_CLASS = (() => {
  const table = new Uint8Array(256);
  for (let b = 0x30; b <= 0x39; b++) table[b] = SHAPE_DIGIT;
  for (const b of [0x20, 0x2e, 0x2d]) table[b] = SHAPE_SEPARATOR;
  for (const b of [0x28, 0x29, 0x2b]) table[b] = SHAPE_PREFIX;
  return table;
})();

/** The digit chains of one run of phone characters [start, end), merged into `census` (longest, or any). */
function followShapes(bytes: Uint8Array, start: number, end: number, census: ByteCensus): void {
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
  if (longestCardChain > census.longestCardChain) census.longestCardChain = longestCardChain;
  if (ssnShape) census.ssnShape = true;
  if (phoneShape) census.phoneShape = true;
  if (longestPrefixedPhoneRun > census.longestPrefixedPhoneRun)
    census.longestPrefixedPhoneRun = longestPrefixedPhoneRun;
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
