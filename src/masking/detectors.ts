/**
 * Content detectors: a pattern finds candidates, a validator (Luhn, SSN area rules, IBAN mod 97...) keeps false
 * positives low. A cheap byte census of the value runs first so that the common value (a name, an id, a
 * timestamp) never reaches a regular expression it cannot match.
 */

/** Counts gathered in one pass over a value's bytes; detectors declare which counts they need. */
export interface ByteCensus {
  length: number;
  digits: number;
  upper: number;
  at: number;
  dots: number;
  dashes: number;
  underscores: number;
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

/** Fills `census` from bytes [start, end) of `bytes`. */
export function takeCensus(bytes: Uint8Array, start: number, end: number, census: ByteCensus): ByteCensus {
  let digits = 0;
  let upper = 0;
  let at = 0;
  let dots = 0;
  let dashes = 0;
  let underscores = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b >= 0x30 && b <= 0x39) digits++;
    else if (b >= 0x41 && b <= 0x5a) upper++;
    else if (b === 0x40) at++;
    else if (b === 0x2e) dots++;
    else if (b === 0x2d) dashes++;
    else if (b === 0x5f) underscores++;
  }
  census.length = end - start;
  census.digits = digits;
  census.upper = upper;
  census.at = at;
  census.dots = dots;
  census.dashes = dashes;
  census.underscores = underscores;
  return census;
}

export function censusOf(text: string): ByteCensus {
  const bytes = Buffer.from(text, "utf8");
  return takeCensus(bytes, 0, bytes.length, emptyCensus());
}

export function emptyCensus(): ByteCensus {
  return { length: 0, digits: 0, upper: 0, at: 0, dots: 0, dashes: 0, underscores: 0 };
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
    mayMatch: (c) => c.digits >= 13,
    validate: isPaymentCard,
  },
  ssn: {
    name: "ssn",
    pattern: /(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])/g,
    mayMatch: (c) => c.digits >= 9,
    validate: isSocialSecurityNumber,
  },
  email: {
    name: "email",
    pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
    mayMatch: (c) => c.at > 0,
  },
  phone: {
    name: "phone",
    // Needs a + or separators: a bare run of 10 digits is more often an id than a phone number.
    pattern:
      /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}[ .-]?\d{3,4}[ .-]?\d{3,4}|(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4})(?!\w)/g,
    mayMatch: (c) => c.digits >= 10,
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
    mayMatch: (c) => c.upper >= 4 && c.length >= 20,
  },
  github_token: {
    name: "github_token",
    pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g,
    mayMatch: (c) => c.underscores > 0 && c.length >= 40,
  },
  slack_token: {
    name: "slack_token",
    pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
    mayMatch: (c) => c.dashes > 0 && c.length >= 15,
  },
  stripe_key: {
    name: "stripe_key",
    pattern: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b/g,
    mayMatch: (c) => c.underscores >= 2 && c.length >= 24,
  },
  jwt: {
    name: "jwt",
    pattern: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
    mayMatch: (c) => c.dots >= 2 && c.length >= 20,
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
  for (const span of spans.slice(1)) {
    const last = kept[kept.length - 1]!;
    if (span.start >= last.end) kept.push(span);
    else if (span.end > last.end) kept[kept.length - 1] = { ...last, end: span.end };
  }
  return kept;
}
