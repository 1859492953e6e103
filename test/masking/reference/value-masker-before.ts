// The ValueMasker as it was before the span finder (commit 8d69f9d), kept as the oracle of
// value-masker.differential.test.ts: the rewritten masker must give the same outcome for every value.
/**
 * Masks one value: a whole value under a column (or field) rule, or the spans content detectors confirm. Works
 * on UTF-8 bytes or strings and knows no protocol: payload adapters (PostgreSQL rows, text, JSON) find the
 * values and put the masked ones back.
 */
import { type ByteCensus, emptyCensus, takeCensus } from "../../../src/masking/byte-census.js";
import { type DetectedSpan, findSpans } from "../../../src/masking/detectors.js";
import { MaskTally } from "../../../src/masking/mask-tally.js";
import { MaskingFailure } from "../../../src/masking/masking-failure.js";
import type { MaskingDetector } from "../../../src/masking/masking-profile.js";
import type { MaskingStrategy } from "../../../src/masking/strategies.js";

/** What became of a value: unchanged, replaced (bytes), or null (SQL NULL, JSON null). */
export type MaskOutcome =
  | { readonly changed: false }
  | { readonly changed: true; readonly value: Buffer | null };

export const UNCHANGED: MaskOutcome = { changed: false };

export class ValueMasker {
  private readonly census: ByteCensus = emptyCensus();
  private readonly strategyByDetector = new Map<string, MaskingStrategy>();
  private readonly detectors;

  constructor(
    detectors: readonly MaskingDetector[],
    /** Counts detector hits (for the `mask` trace span); the payload adapter counts masked values. */
    readonly tally: MaskTally = new MaskTally(),
  ) {
    this.detectors = detectors.map((entry) => entry.detector);
    for (const entry of detectors) this.strategyByDetector.set(entry.detector.name, entry.strategy);
  }

  get detects(): boolean {
    return this.detectors.length > 0;
  }

  /** The whole value through one strategy (column rules). */
  wholeValue(bytes: Buffer, start: number, end: number, strategy: MaskingStrategy): MaskOutcome {
    if (strategy.applyBytes !== undefined)
      return { changed: true, value: strategy.applyBytes(bytes, start, end) };
    const masked = strategy.apply(bytes.toString("utf8", start, end));
    return { changed: true, value: masked === null ? null : Buffer.from(masked, "utf8") };
  }

  /** Content detection; `nullable` false turns a `null` strategy into redaction (where null cannot stand). */
  detect(bytes: Buffer, start: number, end: number, nullable = true): MaskOutcome {
    if (!this.mayHoldAnything(bytes, start, end)) return UNCHANGED;
    if (this.census.nonAscii === 0) return this.detectAscii(bytes, start, end, nullable);
    const text = bytes.toString("utf8", start, end);
    const masked = this.maskSpans(text, nullable);
    if (masked === text) return UNCHANGED;
    return { changed: true, value: masked === null ? null : Buffer.from(masked, "utf8") };
  }

  /** True when a detector confirms something in `text` (used where a value cannot be rewritten). */
  finds(text: string): boolean {
    const bytes = Buffer.from(text, "latin1");
    takeCensus(bytes, 0, bytes.length, this.census);
    const hits = findSpans(text, this.detectors, this.census).length;
    this.tally.detectorHits += hits;
    return hits > 0;
  }

  /** `text` with every detected span masked; null when a span's strategy is `null` and nulls are allowed. */
  maskText(text: string, nullable = true): string | null {
    const bytes = Buffer.from(text, "utf8");
    takeCensus(bytes, 0, bytes.length, this.census);
    return this.maskSpans(text, nullable);
  }

  /**
   * maskText() of a whole text body or block for the `mask` span: with a `tally` (tracing on), a text that
   * changed counts as one row of the spans masked in it, and its detector hits are added.
   */
  maskTextTallied(text: string, nullable: boolean, tally: MaskTally | undefined): string | null {
    if (tally === undefined) return this.maskText(text, nullable);
    const since = performance.now();
    const before = this.tally.detectorHits;
    const masked = this.maskText(text, nullable);
    const hits = this.tally.detectorHits - before;
    tally.detectorHits += hits;
    if (masked !== text) tally.noteMaskedRow(hits, since);
    return masked;
  }

  /** Masks the spans of `text`; the census must already describe `text`. */
  private maskSpans(text: string, nullable: boolean): string | null {
    const spans = findSpans(text, this.detectors, this.census);
    if (spans.length === 0) return text;
    this.tally.detectorHits += spans.length;
    let out = "";
    let cursor = 0;
    for (const span of spans) {
      const strategy = this.strategyByDetector.get(span.detector)!;
      const replaced = strategy.apply(text.slice(span.start, span.end));
      if (replaced === null && nullable) return null;
      out += text.slice(cursor, span.start) + (replaced ?? "[redacted]");
      cursor = span.end;
    }
    return out + text.slice(cursor);
  }

  /**
   * detect() for an ASCII value, where string offsets are byte offsets: spans are masked straight in the bytes,
   * so the unmasked parts are copied rather than decoded, concatenated and encoded again.
   */
  private detectAscii(bytes: Buffer, start: number, end: number, nullable: boolean): MaskOutcome {
    const text = bytes.toString("latin1", start, end);
    const spans = findSpans(text, this.detectors, this.census);
    if (spans.length === 0) return UNCHANGED;
    this.tally.detectorHits += spans.length;
    if (spans.every((span) => this.strategyByDetector.get(span.detector)!.applyInPlace !== undefined)) {
      return this.maskAsciiInPlace(bytes, start, end, spans);
    }
    const replacements: Buffer[] = [];
    let size = end - start;
    for (const span of spans) {
      const strategy = this.strategyByDetector.get(span.detector)!;
      const replaced = this.maskedSpan(strategy, bytes, text, start, span);
      if (replaced === null && nullable) return { changed: true, value: null };
      const piece = replaced ?? REDACTED_BYTES;
      replacements.push(piece);
      size += piece.length - (span.end - span.start);
    }
    const out = Buffer.allocUnsafe(size);
    let cursor = start;
    let written = 0;
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i]!;
      written += bytes.copy(out, written, cursor, start + span.start);
      written += replacements[i]!.copy(out, written);
      cursor = start + span.end;
    }
    bytes.copy(out, written, cursor, end);
    // A strategy may leave a span as it was; the value is then unchanged, as on the string path.
    if (size === end - start && out.equals(bytes.subarray(start, end))) return UNCHANGED;
    return { changed: true, value: out };
  }

  /** Every span's strategy keeps its length (partial on ASCII): one copy of the value, masked where it lies. */
  private maskAsciiInPlace(
    bytes: Buffer,
    start: number,
    end: number,
    spans: readonly DetectedSpan[],
  ): MaskOutcome {
    const out = Buffer.allocUnsafe(end - start);
    bytes.copy(out, 0, start, end);
    let changed = false;
    for (const span of spans) {
      // ASCII, so applyInPlace cannot refuse; if it ever did, the span would stay clear: refuse the value instead.
      const strategy = this.strategyByDetector.get(span.detector)!;
      if (!strategy.applyInPlace!(out, span.start, span.end, bytes, start + span.start)) {
        throw new MaskingFailure(
          `masking strategy for ${span.detector} could not mask an ASCII span in place`,
        );
      }
      if (!changed)
        changed = out.compare(bytes, start + span.start, start + span.end, span.start, span.end) !== 0;
    }
    return changed ? { changed: true, value: out } : UNCHANGED;
  }

  private maskedSpan(
    strategy: MaskingStrategy,
    bytes: Buffer,
    text: string,
    offset: number,
    span: DetectedSpan,
  ): Buffer | null {
    if (strategy.applyBytes !== undefined) {
      return strategy.applyBytes(bytes, offset + span.start, offset + span.end);
    }
    const masked = strategy.apply(text.slice(span.start, span.end));
    return masked === null ? null : Buffer.from(masked, "utf8");
  }

  private mayHoldAnything(bytes: Buffer, start: number, end: number): boolean {
    takeCensus(bytes, start, end, this.census);
    for (const detector of this.detectors) if (detector.mayMatch(this.census)) return true;
    return false;
  }
}

const REDACTED_BYTES = Buffer.from("[redacted]");
