/**
 * Content detectors: a pattern finds candidates, a validator (detector-validators.ts) keeps false positives low,
 * and a byte census of the value (byte-census.ts) runs first so that a detector whose shape the value cannot
 * hold never runs its regular expression.
 */
import type { ByteCensus } from "./byte-census.js";
import { isIban, isPaymentCard, isPhoneNumber, isSocialSecurityNumber } from "./detector-validators.js";
import { nextEmail } from "./email-scan.js";
import { nextJwt } from "./jwt-scan.js";

export interface Detector {
  readonly name: string;
  /** Global (`g`) pattern; each match is a candidate. */
  readonly pattern: RegExp;
  /** Can the value possibly hold a match? Must never say no when the pattern could match. */
  readonly mayMatch: (census: ByteCensus) => boolean;
  /** Confirms a candidate; absent means every match counts. */
  readonly validate?: (match: string) => boolean;
  /**
   * Finds the next candidate at or after `from` instead of `pattern` (which then only documents the shape),
   * for a detector whose regex would backtrack quadratically on hostile input (email-scan.ts).
   */
  readonly next?: (text: string, from: number) => readonly [number, number] | undefined;
}

export interface DetectedSpan {
  readonly start: number;
  readonly end: number;
  readonly detector: string;
}

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
    next: nextEmail,
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
    next: nextJwt,
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
    if (detector.next !== undefined) {
      for (let found = detector.next(text, 0); found !== undefined; found = detector.next(text, found[1])) {
        const [start, end] = found;
        if (detector.validate === undefined || detector.validate(text.slice(start, end)))
          spans.push({ start, end, detector: detector.name });
      }
      continue;
    }
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
