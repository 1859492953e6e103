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

// The pre-checks of the built-in detectors, named so that builtinCandidates() below asks exactly the same
// questions in one call as the detectors' mayMatch do one by one.
const mayHoldCard = (c: ByteCensus) => c.longestCardChain >= 13;
const mayHoldSsn = (c: ByteCensus) => c.ssnShape;
/** local@label.tld: an @, a dot after it, at least 6 characters. */
const mayHoldEmail = (c: ByteCensus) => c.at > 0 && c.dots > 0 && c.length >= 6;
/**
 * The validator wants 10+ digits: after a + or a ( they sit in one run of phone characters; otherwise the
 * pattern is 3-3-4 digit groups.
 */
const mayHoldPhone = (c: ByteCensus) => c.digits >= 10 && (c.phoneShape || c.longestPrefixedPhoneRun >= 10);
const mayHoldIban = (c: ByteCensus) => c.upper >= 2 && c.digits >= 4 && c.length >= 15;
/** 20 characters, each an upper-case letter or a digit. */
const mayHoldAwsKey = (c: ByteCensus) => c.upper >= 4 && c.upper + c.digits >= 20;
/** github_pat_ plus 22 is the shortest (33); ghp_ plus 36 is 40. */
const mayHoldGithubToken = (c: ByteCensus) => c.underscores > 0 && c.length >= 33;
/** "xox" (two x), a dash, 15 characters: a timestamp such as 2024-05-17 12:34:56 never gets to the regex. */
const mayHoldSlackToken = (c: ByteCensus) => c.lowerX >= 2 && c.dashes > 0 && c.length >= 15;
const mayHoldStripeKey = (c: ByteCensus) => c.underscores >= 2 && c.length >= 24;
/** Two "eyJ" segments (two upper-case J) and two dots. */
const mayHoldJwt = (c: ByteCensus) => c.upper >= 2 && c.dots >= 2 && c.length >= 20;
const mayHoldPrivateKey = (c: ByteCensus) => c.dashes >= 10;
const mayHoldIpv4 = (c: ByteCensus) => c.dots >= 3 && c.digits >= 4;

/** Every built-in detector by its config name. */
export const BUILTIN_DETECTORS: Readonly<Record<string, Detector>> = {
  card: {
    name: "card",
    pattern: /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g,
    mayMatch: mayHoldCard,
    validate: isPaymentCard,
  },
  ssn: {
    name: "ssn",
    pattern: /(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])/g,
    mayMatch: mayHoldSsn,
    validate: isSocialSecurityNumber,
  },
  email: {
    name: "email",
    pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
    mayMatch: mayHoldEmail,
    next: nextEmail,
  },
  phone: {
    name: "phone",
    // Needs a + or separators: a bare run of 10 digits is more often an id than a phone number.
    pattern:
      /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}[ .-]?\d{3,4}[ .-]?\d{3,4}|(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4})(?!\w)/g,
    mayMatch: mayHoldPhone,
    validate: isPhoneNumber,
  },
  iban: {
    name: "iban",
    pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g,
    mayMatch: mayHoldIban,
    validate: isIban,
  },
  aws_access_key: {
    name: "aws_access_key",
    pattern: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/g,
    mayMatch: mayHoldAwsKey,
  },
  github_token: {
    name: "github_token",
    pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g,
    mayMatch: mayHoldGithubToken,
  },
  slack_token: {
    name: "slack_token",
    pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
    mayMatch: mayHoldSlackToken,
  },
  stripe_key: {
    name: "stripe_key",
    pattern: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b/g,
    mayMatch: mayHoldStripeKey,
  },
  jwt: {
    name: "jwt",
    pattern: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
    mayMatch: mayHoldJwt,
    next: nextJwt,
  },
  private_key: {
    name: "private_key",
    // An unterminated key (a truncated value) is masked to the end rather than left half visible.
    pattern:
      /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)/g,
    mayMatch: mayHoldPrivateKey,
  },
  ipv4: {
    name: "ipv4",
    pattern: new RegExp(`(?<![\\d.])(?:${IPV4_OCTET}\\.){3}${IPV4_OCTET}(?![\\d.])`, "g"),
    mayMatch: mayHoldIpv4,
  },
};

export const BUILTIN_DETECTOR_NAMES: readonly string[] = Object.keys(BUILTIN_DETECTORS);

/** One bit per built-in detector (1 << its index in BUILTIN_DETECTOR_NAMES), by identity. */
export const BUILTIN_DETECTOR_BITS: ReadonlyMap<Detector, number> = new Map(
  Object.values(BUILTIN_DETECTORS).map((detector, i) => [detector, 1 << i] as const),
);

/**
 * No built-in pre-check admits a value of fewer bytes: an e-mail address needs 6 (a@b.cd), every other shape
 * more (an IPv4 address 7, an SSN 11, a card 13...). A test holds builtinCandidates to 0 below it.
 */
export const BUILTIN_MIN_LENGTH = 6;

/**
 * The built-in detectors whose mayMatch(census) is true, as BUILTIN_DETECTOR_BITS: every pre-check in one
 * monomorphic call, where calling twelve different mayMatch closures per value cost more than the census.
 * The bit order is BUILTIN_DETECTORS' (a test holds this to the mayMatch of each).
 */
export function builtinCandidates(c: ByteCensus): number {
  return (
    (mayHoldCard(c) ? 1 : 0) |
    (mayHoldSsn(c) ? 2 : 0) |
    (mayHoldEmail(c) ? 4 : 0) |
    (mayHoldPhone(c) ? 8 : 0) |
    (mayHoldIban(c) ? 16 : 0) |
    (mayHoldAwsKey(c) ? 32 : 0) |
    (mayHoldGithubToken(c) ? 64 : 0) |
    (mayHoldSlackToken(c) ? 128 : 0) |
    (mayHoldStripeKey(c) ? 256 : 0) |
    (mayHoldJwt(c) ? 512 : 0) |
    (mayHoldPrivateKey(c) ? 1024 : 0) |
    (mayHoldIpv4(c) ? 2048 : 0)
  );
}

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
