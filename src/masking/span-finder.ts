/**
 * findSpans() (detectors.ts) for the masking hot path: the same spans, written into arrays reused from one
 * value to the next instead of an object per span, a tuple per candidate and a closure per detector. The
 * built-in pre-checks are asked in one call (builtinCandidates), and a value none of them admits is rejected
 * before anything else runs. findSpans stays the reference: test/masking/span-finder.property.test.ts holds the
 * two to the same answers.
 */
import type { ByteCensus } from "./byte-census.js";
import {
  BUILTIN_DETECTOR_BITS,
  BUILTIN_DETECTORS,
  BUILTIN_MIN_LENGTH,
  builtinCandidates,
  type Detector,
} from "./detectors.js";
import { nextEmailInBytes } from "./email-scan.js";

/** The built-in detectors findInAsciiBytes() scans without a string: the e-mail one (no validator). */
const BYTE_SCANNED = BUILTIN_DETECTOR_BITS.get(BUILTIN_DETECTORS.email!)!;

/** Above this many spans the merge sorts an index array; below, an insertion sort (stable, no allocation). */
const INSERTION_SORT_MAX = 24;

export class SpanFinder {
  /** The spans of the last find(), merged and ordered by start: [starts[i], ends[i]) by detector owners[i]. */
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  /** Index into the detectors given to the constructor. */
  readonly owners: number[] = [];
  count = 0;
  /** Bits of the configured built-in detectors (BUILTIN_DETECTOR_BITS); per detector, 0 for any other one. */
  private readonly builtinMask: number;
  private readonly bits: readonly number[];
  /** A detector that is not a built-in: its own mayMatch decides, for every value. */
  private readonly hasOthers: boolean;
  /**
   * Values shorter than this can match no detector, so their census need not be taken: BUILTIN_MIN_LENGTH
   * with only built-ins configured (ids, flags, short numbers), 0 with any other detector (it decides alone).
   */
  readonly minLength: number;

  constructor(private readonly detectors: readonly Detector[]) {
    this.bits = detectors.map((detector) => BUILTIN_DETECTOR_BITS.get(detector) ?? 0);
    this.builtinMask = this.bits.reduce((mask, bit) => mask | bit, 0);
    this.hasOthers = this.bits.includes(0);
    this.minLength = this.hasOthers ? 0 : BUILTIN_MIN_LENGTH;
  }

  /** The configured built-in detectors whose pre-check admits a value of `census` (BUILTIN_DETECTOR_BITS). */
  candidates(census: ByteCensus): number {
    return this.builtinMask === 0 ? 0 : builtinCandidates(census) & this.builtinMask;
  }

  /** False when no detector can match a value of `census`, so find() need not run (nor the text be decoded). */
  mayFind(census: ByteCensus, candidates: number): boolean {
    if (candidates !== 0) return true;
    if (!this.hasOthers) return false;
    for (let d = 0; d < this.detectors.length; d++)
      if (this.bits[d] === 0 && this.detectors[d]!.mayMatch(census)) return true;
    return false;
  }

  /** Every confirmed, merged span of the detectors in `text`; `candidates` from candidates() for its census. */
  find(text: string, census: ByteCensus, candidates: number): number {
    const detectors = this.detectors;
    this.count = 0;
    for (let d = 0; d < detectors.length; d++) {
      const bit = this.bits[d]!;
      const detector = detectors[d]!;
      if (bit !== 0 ? (candidates & bit) === 0 : !detector.mayMatch(census)) continue;
      this.scan(text, detector, d);
    }
    if (this.count > 1) this.merge();
    return this.count;
  }

  /**
   * find() without the text, for an ASCII value whose candidates are all scanned on bytes (byteScannable());
   * spans are offsets from `start`, the same as in the latin1 text find() would be given.
   */
  findInAsciiBytes(bytes: Uint8Array, start: number, end: number, candidates: number): number {
    const found = this.found;
    this.count = 0;
    for (let d = 0; d < this.detectors.length; d++) {
      if ((candidates & this.bits[d]!) === 0) continue;
      for (let at = nextEmailInBytes(bytes, start, end, found); at !== -1; ) {
        const spanEnd = found[0]!;
        this.push(at - start, spanEnd - start, d);
        at = nextEmailInBytes(bytes, spanEnd, end, found);
      }
    }
    if (this.count > 1) this.merge();
    return this.count;
  }

  /** True when findInAsciiBytes() can stand for find() on a value of these candidates. */
  byteScannable(candidates: number): boolean {
    return !this.hasOthers && candidates !== 0 && (candidates & ~BYTE_SCANNED) === 0;
  }

  private readonly found: number[] = [0];

  private scan(text: string, detector: Detector, owner: number): void {
    const validate = detector.validate;
    const next = detector.next;
    if (next !== undefined) {
      for (let found = next(text, 0); found !== undefined; found = next(text, found[1])) {
        const start = found[0];
        const end = found[1];
        if (validate === undefined || validate(text.slice(start, end))) this.push(start, end, owner);
      }
      return;
    }
    const pattern = detector.pattern;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      const found = match[0];
      if (found.length === 0) {
        pattern.lastIndex++;
        continue;
      }
      if (validate === undefined || validate(found))
        this.push(match.index, match.index + found.length, owner);
    }
  }

  private push(start: number, end: number, owner: number): void {
    const i = this.count++;
    this.starts[i] = start;
    this.ends[i] = end;
    this.owners[i] = owner;
  }

  /**
   * findSpans' order and merge: by start, then the longer first, ties in the order found (a stable sort);
   * where spans overlap the earlier one is kept, stretched to cover the later one's end.
   */
  private merge(): void {
    const { starts, ends, owners } = this;
    const n = this.count;
    if (n <= INSERTION_SORT_MAX) {
      for (let i = 1; i < n; i++) {
        const s = starts[i]!;
        const e = ends[i]!;
        const o = owners[i]!;
        let j = i - 1;
        while (j >= 0 && (starts[j]! > s || (starts[j] === s && ends[j]! < e))) {
          starts[j + 1] = starts[j]!;
          ends[j + 1] = ends[j]!;
          owners[j + 1] = owners[j]!;
          j--;
        }
        starts[j + 1] = s;
        ends[j + 1] = e;
        owners[j + 1] = o;
      }
    } else {
      const order = Array.from({ length: n }, (_, i) => i);
      order.sort((a, b) => starts[a]! - starts[b]! || ends[b]! - ends[a]! || a - b);
      const s = order.map((i) => starts[i]!);
      const e = order.map((i) => ends[i]!);
      const o = order.map((i) => owners[i]!);
      for (let i = 0; i < n; i++) {
        starts[i] = s[i]!;
        ends[i] = e[i]!;
        owners[i] = o[i]!;
      }
    }
    let kept = 0;
    for (let i = 1; i < n; i++) {
      if (starts[i]! >= ends[kept]!) {
        kept++;
        starts[kept] = starts[i]!;
        ends[kept] = ends[i]!;
        owners[kept] = owners[i]!;
      } else if (ends[i]! > ends[kept]!) ends[kept] = ends[i]!;
    }
    this.count = kept + 1;
  }
}
