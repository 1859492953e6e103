/**
 * Content detectors: a pattern finds candidates, a validator (Luhn, SSN area rules, IBAN mod 97...) keeps false
 * positives low. A cheap byte census of the value runs first so that the common value (a name, an id, a
 * timestamp) never reaches a regular expression it cannot match.
 */

/**
 * Counts and shapes gathered from a value's bytes; detectors declare which of them they need. The shapes are
 * necessary conditions read off the patterns below (digit groups and the separators between them), so a
 * timestamp such as 2024-05-17 12:34:56 rules out cards, SSNs and phone numbers without running a regex. The
 * shapes are followed only in values with enough digits for one (see takeCensus); otherwise they are 0/false.
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

export interface Detector {
  readonly name: string;
  /** Global (`g`) pattern; each match is a candidate. */
  readonly pattern: RegExp;
  /** Can the value possibly hold a match? Must never say no when the pattern could match. */
  readonly mayMatch: (census: ByteCensus) => boolean;
  /** Confirms a candidate; absent means every match counts. */
  readonly validate?: (match: string) => boolean;
}

export interface DetectedSpan {
  readonly start: number;
  readonly end: number;
  readonly detector: string;
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

// ---- validators ---------------------------------------------------------------------------------------------

/** Luhn checksum over the digits of `text` (separators ignored). */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function digitsOf(text: string): string {
  return text.replace(/\D/g, "");
}

/**
 * A payment card: 13-19 digits, a major network's leading digit (2-6), Luhn-valid, not one repeated digit,
 * and separators (if any) used consistently - an order id such as 1234-5678-9012-3456 fails Luhn and stays clear.
 */
export function isPaymentCard(candidate: string): boolean {
  const digits = digitsOf(candidate);
  if (digits.length < 13 || digits.length > 19) return false;
  if (digits[0]! < "2" || digits[0]! > "6") return false;
  if (/^(\d)\1+$/.test(digits)) return false;
  const separators = new Set(candidate.replace(/\d/g, ""));
  if (separators.size > 1) return false;
  return passesLuhn(digits);
}

/** US SSN rules: area not 000, 666 or 900-999; group not 00; serial not 0000. */
export function isSocialSecurityNumber(candidate: string): boolean {
  const digits = digitsOf(candidate);
  if (digits.length !== 9) return false;
  const area = Number(digits.slice(0, 3));
  const group = Number(digits.slice(3, 5));
  const serial = Number(digits.slice(5));
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

/** IBAN: length 15-34 and ISO 13616 mod-97 check (letters as 10..35, country and check digits moved last). */
export function isIban(candidate: string): boolean {
  const compact = candidate.replace(/ /g, "");
  if (compact.length < 15 || compact.length > 34) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    remainder = (value > 9 ? remainder * 100 + value : remainder * 10 + value) % 97;
  }
  return remainder === 1;
}

function isPhoneNumber(candidate: string): boolean {
  const digits = digitsOf(candidate).length;
  return digits >= 10 && digits <= 15;
}

// ---- the built-in table ---------------------------------------------------------------------------------------

const IPV4_OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";

/** Every built-in detector by its config name. */
export const BUILTIN_DETECTORS: Readonly<Record<string, Detector>> = {
  card: {
    name: "card",
    pattern: /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g,
    mayMatch: (c) => c.longestCardChain >= 13,
    validate: isPaymentCard,
  },
  ssn: {
    name: "ssn",
    pattern: /(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])/g,
    mayMatch: (c) => c.ssnShape,
    validate: isSocialSecurityNumber,
  },
  email: {
    name: "email",
    pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
    // local@label.tld: an @, a dot after it, at least 6 characters.
    mayMatch: (c) => c.at > 0 && c.dots > 0 && c.length >= 6,
  },
  phone: {
    name: "phone",
    // Needs a + or separators: a bare run of 10 digits is more often an id than a phone number.
    pattern:
      /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}[ .-]?\d{3,4}[ .-]?\d{3,4}|(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4})(?!\w)/g,
    // The validator wants 10+ digits: after a + or a ( they sit in one run of phone characters; otherwise the
    // pattern is 3-3-4 digit groups.
    mayMatch: (c) => c.digits >= 10 && (c.phoneShape || c.longestPrefixedPhoneRun >= 10),
    validate: isPhoneNumber,
  },
  iban: {
    name: "iban",
    pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g,
    mayMatch: (c) => c.upper >= 2 && c.digits >= 4 && c.length >= 15,
    validate: isIban,
  },
  aws_access_key: {
    name: "aws_access_key",
    pattern: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/g,
    // 20 characters, each an upper-case letter or a digit.
    mayMatch: (c) => c.upper >= 4 && c.upper + c.digits >= 20,
  },
  github_token: {
    name: "github_token",
    pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g,
    // github_pat_ plus 22 is the shortest (33); ghp_ plus 36 is 40.
    mayMatch: (c) => c.underscores > 0 && c.length >= 33,
  },
  slack_token: {
    name: "slack_token",
    pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
    // "xox" (two x), a dash, 15 characters: a timestamp such as 2024-05-17 12:34:56 never gets to the regex.
    mayMatch: (c) => c.lowerX >= 2 && c.dashes > 0 && c.length >= 15,
  },
  stripe_key: {
    name: "stripe_key",
    pattern: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b/g,
    mayMatch: (c) => c.underscores >= 2 && c.length >= 24,
  },
  jwt: {
    name: "jwt",
    pattern: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
    // Two "eyJ" segments (two upper-case J) and two dots.
    mayMatch: (c) => c.upper >= 2 && c.dots >= 2 && c.length >= 20,
  },
  private_key: {
    name: "private_key",
    // An unterminated key (a truncated value) is masked to the end rather than left half visible.
    pattern:
      /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)/g,
    mayMatch: (c) => c.dashes >= 10,
  },
  ipv4: {
    name: "ipv4",
    pattern: new RegExp(`(?<![\\d.])(?:${IPV4_OCTET}\\.){3}${IPV4_OCTET}(?![\\d.])`, "g"),
    mayMatch: (c) => c.dots >= 3 && c.digits >= 4,
  },
};

export const BUILTIN_DETECTOR_NAMES: readonly string[] = Object.keys(BUILTIN_DETECTORS);

/** A detector from a custom regex in config; it runs on every value (no census shortcut). */
export function customDetector(name: string, source: string, flags: string): Detector {
  const pattern = new RegExp(source, `${flags.replace(/g/g, "")}g`);
  if (pattern.test("")) throw new Error(`custom detector ${name}: the pattern matches the empty string`);
  return { name, pattern, mayMatch: () => true };
}

/**
 * Every confirmed match of `detectors` in `text`, ordered by start; where matches overlap, the earlier (then
 * longer) one wins and the other is dropped, since its characters are masked anyway.
 */
export function findSpans(text: string, detectors: readonly Detector[], census: ByteCensus): DetectedSpan[] {
  const spans: DetectedSpan[] = [];
  for (const detector of detectors) {
    if (!detector.mayMatch(census)) continue;
    const pattern = detector.pattern;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      if (match[0].length === 0) {
        pattern.lastIndex++;
        continue;
      }
      if (detector.validate === undefined || detector.validate(match[0])) {
        spans.push({ start: match.index, end: match.index + match[0].length, detector: detector.name });
      }
    }
  }
  if (spans.length < 2) return spans;
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: DetectedSpan[] = [spans[0]!];
  for (let i = 1; i < spans.length; i++) {
    const span = spans[i]!;
    const last = kept[kept.length - 1]!;
    if (span.start >= last.end) kept.push(span);
    else if (span.end > last.end)
      kept[kept.length - 1] = { start: last.start, end: span.end, detector: last.detector };
  }
  return kept;
}
