/**
 * The PostgreSQL row adapter of the masking core: turns a RowDescription into a plan per column (column rule,
 * content detection, or a check where a binary value cannot be rewritten) and applies it to each DataRow.
 * Column identity comes from provenance (table OID + attribute number), never from the column's name.
 * Anything it cannot mask safely throws a MaskingFailure; the result masker withholds the result.
 */

import { MaskingFailure } from "../../masking/masking-failure.js";
import type { CompiledMaskingProfile } from "../../masking/masking-profile.js";
import type { MaskingStrategy } from "../../masking/strategies.js";
import { copyOf, Found, type ValueMasker } from "../../masking/value-masker.js";
import { type ColumnProvenance, UNKNOWN_PROVENANCE } from "../../sql/postgres/column-provenance.js";
import { BINARY_NUMBER_TYPES, BINARY_TEXT_TYPES, binaryNumberText, TYPE_OID } from "./binary-values.js";
import type { Frame } from "./messages.js";
import { DATA_ROW, type FieldDescription, locateDataRowValues } from "./row-codec.js";

/** What the masker does with one result column. */
enum Action {
  Pass,
  /** Column rule: the whole value through its strategy (text wire format, or a binary text type). */
  Rule,
  /** Content detection on text (text format, or a binary text type). */
  Detect,
  /** Binary jsonb: a version byte, then JSON text. */
  DetectJsonb,
  /** Binary number: rendered as text for detection; a hit withholds the result (it cannot be rewritten). */
  CheckNumber,
  /** Any other binary type: its bytes scanned for detections, which withhold the result. */
  CheckOpaque,
}

interface ColumnPlan {
  readonly action: Action;
  readonly typeOid: number;
  readonly strategy?: MaskingStrategy;
}

export class RowMasker {
  private readonly hasColumnRules: boolean;
  private plan: ColumnPlan[] | undefined;
  private planNeedsWork = false;
  private readonly spans: number[] = [];
  private readonly replaced: (Buffer | null | undefined)[] = [];

  constructor(
    private readonly profile: CompiledMaskingProfile,
    private readonly provenance: ColumnProvenance,
    private readonly values: ValueMasker,
  ) {
    this.hasColumnRules = profile.columns.size > 0;
  }

  /** Plans the rows of the result `fields` describes; on a MaskingFailure the previous plan is kept. */
  describe(fields: readonly FieldDescription[]): void {
    this.plan = this.planFor(fields);
  }

  /** The result ended (or has no rows): rows without a new description are refused. */
  forget(): void {
    this.plan = undefined;
  }

  /** The DataRow to send for `frame`: its own bytes when nothing changed, a rebuilt row otherwise. */
  mask(frame: Frame): Buffer {
    const plan = this.plan;
    if (plan === undefined) throw new MaskingFailure("rows arrived without a row description");
    const body = frame.body;
    const spans = this.spans;
    const count = locateDataRowValues(body, spans);
    if (count !== plan.length) {
      throw new MaskingFailure(`a row has ${count} values but its description has ${plan.length} columns`);
    }
    if (!this.planNeedsWork) return frame.raw;
    // Values whose masked form keeps their length are masked in one copy of the row (`copy`, made at the first
    // change), with no Buffer per value; the others are collected in `replaced` (undefined keeps the value) and
    // the row is rebuilt around them. Reused across rows: a row that stays clear allocates nothing.
    const replaced = this.replaced;
    let copy: Buffer | undefined;
    let resized = false;
    let masked = 0;
    for (let i = 0; i < count; i++) {
      replaced[i] = undefined;
      const column = plan[i]!;
      const length = spans[2 * i + 1]!;
      if (column.action === Action.Pass || length === -1) continue;
      const start = spans[2 * i]!;
      if (column.action === Action.Rule && column.strategy!.applyInPlace !== undefined) {
        copy ??= copyOf(frame.raw);
        // The body starts after the type byte and the length (5 bytes) in the raw frame.
        if (column.strategy!.applyInPlace(copy, 5 + start, 5 + start + length, body, start)) {
          masked++;
          continue;
        }
      }
      let outcome: Buffer | null | undefined;
      if (column.action === Action.Detect) {
        // Found spans are masked straight into the row's copy, with no Buffer for the value.
        const found = this.values.scan(body, start, start + length);
        if (found === Found.Nothing) continue;
        if (found === Found.InPlace) {
          copy ??= copyOf(frame.raw);
          if (this.values.maskFoundInPlace(copy, 5 + start, body, start)) masked++;
          continue;
        }
        const rebuilt = this.values.maskFound(body, start, start + length, true);
        if (!rebuilt.changed) continue;
        outcome = rebuilt.value;
      } else outcome = this.maskValue(column, body, start, start + length);
      if (outcome === undefined) continue;
      masked++;
      if (outcome !== null && outcome.length === length) {
        copy ??= copyOf(frame.raw);
        outcome.copy(copy, 5 + start);
        continue;
      }
      replaced[i] = outcome;
      resized = true;
    }
    if (masked === 0) return frame.raw; // a span a strategy left as it was: the row is sent as it came
    this.values.tally.noteMaskedRow(masked);
    if (resized) return rebuildDataRow(copy === undefined ? body : copy.subarray(5), spans, count, replaced);
    return copy ?? frame.raw;
  }

  // ---- planning -------------------------------------------------------------------------------------------

  private planFor(fields: readonly FieldDescription[]): ColumnPlan[] {
    const plan = fields.map((field) => this.columnPlan(field));
    this.planNeedsWork = plan.some((column) => column.action !== Action.Pass);
    return plan;
  }

  private columnPlan(field: FieldDescription): ColumnPlan {
    const strategy = this.ruleFor(field);
    const binary = field.format === 1;
    const typeOid = field.typeOid;
    if (strategy !== undefined) {
      if (!binary || BINARY_TEXT_TYPES.has(typeOid)) return { action: Action.Rule, typeOid, strategy };
      throw new MaskingFailure(
        `masked column "${field.name}" was requested in binary format for type ${typeOid}; request text format`,
      );
    }
    if (!this.values.detects) return { action: Action.Pass, typeOid };
    if (!binary || BINARY_TEXT_TYPES.has(typeOid)) return { action: Action.Detect, typeOid };
    if (typeOid === TYPE_OID.jsonb) return { action: Action.DetectJsonb, typeOid };
    if (BINARY_NUMBER_TYPES.has(typeOid)) return { action: Action.CheckNumber, typeOid };
    return { action: Action.CheckOpaque, typeOid };
  }

  private ruleFor(field: FieldDescription): MaskingStrategy | undefined {
    if (!this.hasColumnRules || field.tableOid === 0) return undefined;
    const column = this.provenance.resolve(field.tableOid, field.attributeNumber);
    if (column === UNKNOWN_PROVENANCE) {
      throw new MaskingFailure(`provenance of column "${field.name}" is not loaded (call prepare first)`);
    }
    return column === undefined ? undefined : this.profile.columns.get(column);
  }

  // ---- values -----------------------------------------------------------------------------------------------

  /** The replacement value, or undefined to keep it as it is. */
  private maskValue(column: ColumnPlan, body: Buffer, start: number, end: number): Buffer | null | undefined {
    switch (column.action) {
      case Action.Rule: {
        const outcome = this.values.wholeValue(body, start, end, column.strategy!);
        return outcome.changed ? outcome.value : undefined;
      }
      case Action.DetectJsonb: {
        if (end === start || body[start] !== 1) throw new MaskingFailure("unknown binary jsonb version");
        const outcome = this.values.detect(body, start + 1, end, false);
        if (!outcome.changed || outcome.value === null) return undefined;
        return Buffer.concat([Buffer.of(1), outcome.value]);
      }
      case Action.CheckNumber: {
        const text = binaryNumberText(column.typeOid, body.subarray(start, end));
        if (text === undefined) throw new MaskingFailure(`malformed binary value of type ${column.typeOid}`);
        if (this.values.finds(text)) {
          throw new MaskingFailure(
            `a binary ${column.typeOid} value holds sensitive data; request text format`,
          );
        }
        return undefined;
      }
      case Action.CheckOpaque:
        if (this.values.finds(body.toString("latin1", start, end))) {
          throw new MaskingFailure(
            `a binary ${column.typeOid} value holds sensitive data; request text format`,
          );
        }
        return undefined;
      default:
        return undefined;
    }
  }
}

/**
 * A DataRow from `body` with some values replaced (`replaced[i]` undefined keeps value i): kept values are
 * copied straight from the body by the offsets locateDataRowValues found, with no Buffer per value.
 */
function rebuildDataRow(
  body: Buffer,
  spans: readonly number[],
  count: number,
  replaced: readonly (Buffer | null | undefined)[],
): Buffer {
  let size = 4 + 2;
  for (let i = 0; i < count; i++) {
    const value = replaced[i];
    const length = value === undefined ? spans[2 * i + 1]! : value === null ? -1 : value.length;
    size += 4 + (length === -1 ? 0 : length);
  }
  if (size > 0x7fffffff) throw new MaskingFailure(`a masked row of ${size} bytes is too large`);
  const out = Buffer.allocUnsafe(size + 1);
  out[0] = DATA_ROW;
  out.writeInt32BE(size, 1);
  out[5] = count >>> 8;
  out[6] = count & 0xff;
  let cursor = 7;
  for (let i = 0; i < count; i++) {
    const value = replaced[i];
    if (value === null) {
      out.writeInt32BE(-1, cursor);
      cursor += 4;
    } else if (value === undefined) {
      const start = spans[2 * i]!;
      const length = spans[2 * i + 1]!;
      out.writeInt32BE(length, cursor);
      cursor += 4;
      if (length > 0) cursor += copyBytes(body, start, start + length, out, cursor);
    } else {
      out.writeInt32BE(value.length, cursor);
      cursor += 4;
      cursor += copyBytes(value, 0, value.length, out, cursor);
    }
  }
  return out;
}

/** Short values are copied byte by byte: cheaper than Buffer.copy's call overhead below a few dozen bytes. */
function copyBytes(from: Buffer, start: number, end: number, to: Buffer, at: number): number {
  const length = end - start;
  if (length > 32) return from.copy(to, at, start, end);
  for (let i = 0; i < length; i++) to[at + i] = from[start + i]!;
  return length;
}
