/**
 * The MySQL row adapter of the masking core: a plan per column from its ColumnDefinition41 (a column rule by
 * provenance `<db>.<org_table>.<org_name>`, content detection, or a check where a value cannot take a masked
 * string), applied to text and binary rows. Anything it cannot mask safely throws a MaskingFailure; the result
 * masker then withholds the result.
 */
import { MaskingFailure } from "../../masking/masking-failure.js";
import type { CompiledMaskingProfile } from "../../masking/masking-profile.js";
import type { MaskingStrategy } from "../../masking/strategies.js";
import { copyOf, Found, type ValueMasker } from "../../masking/value-masker.js";
import { COLUMN_TYPE, type ColumnDefinition, type TypeCategory, typeCategory } from "./column-definition.js";
import { MysqlProtocolViolation } from "./packet-reader.js";
import {
  locateBinaryRow,
  locateTextRow,
  type RowReplacements,
  type RowSpans,
  rebuildBinaryRow,
  rebuildTextRow,
} from "./result-rows.js";

enum Action {
  Pass,
  /** Column rule on a string type: the whole value through the strategy. */
  Rule,
  /** Column rule on a JSON column: the masked value as a JSON string, so the driver can still parse it. */
  RuleJson,
  /** Column rule on a type that cannot hold a masked string (numbers, dates, bits): NULL. */
  RuleNull,
  /** Content detection on a string value, spans masked in place. */
  Detect,
  /** Content detection on a number or opaque value: a hit makes it NULL. */
  CheckToNull,
}

interface ColumnPlan {
  readonly action: Action;
  readonly type: number;
  readonly unsigned: boolean;
  readonly strategy?: MaskingStrategy;
  /** SHOW WARNINGS / SHOW ERRORS: quoted runs in derived text are values echoed by the server. */
  readonly scrubQuotes: boolean;
}

const UNSIGNED_FLAG = 0x20;

export class MysqlRowMasker {
  private readonly hasColumnRules: boolean;
  /** "table.column" -> strategy, for columns a server reports without their database (materialized tables). */
  private readonly byTableColumn = new Map<string, MaskingStrategy>();
  private plan: ColumnPlan[] = [];
  private types: number[] = [];
  private needsWork = false;
  private readonly spans: RowSpans = [];
  private readonly replaced: RowReplacements = [];

  constructor(
    private readonly profile: CompiledMaskingProfile,
    private readonly values: ValueMasker,
  ) {
    this.hasColumnRules = profile.columns.size > 0;
    for (const [column, strategy] of profile.columns) {
      this.byTableColumn.set(column.slice(column.indexOf(".") + 1), strategy);
    }
  }

  /** Plans the rows of a result; throws a MaskingFailure for a column it cannot handle. */
  describe(columns: readonly ColumnDefinition[], options: { scrubQuotes: boolean }): void {
    this.plan = columns.map((column) => this.columnPlan(column, options.scrubQuotes));
    this.types = columns.map((column) => column.type);
    this.needsWork = this.plan.some((column) => column.action !== Action.Pass);
  }

  /**
   * The packet of the last maskRow() when its values were masked in a copy of the whole packet (`raw` given,
   * one fragment, no length changed): the masked payload is framed.subarray(4), and the packet can be sent as
   * it is once its sequence id is set. Undefined otherwise.
   */
  framed: Buffer | undefined;

  /**
   * The row payload to send: the same Buffer when nothing changed. Values whose masked form keeps their length
   * are masked in one copy of the row (of its packet `raw` when given), made at the first change, with no Buffer
   * per value; the others go in `replaced` and the row is rebuilt around them.
   */
  maskRow(payload: Buffer, binary: boolean, raw?: Buffer): Buffer {
    const count = this.plan.length;
    this.framed = undefined;
    try {
      if (binary) locateBinaryRow(payload, this.types, this.spans);
      else locateTextRow(payload, count, this.spans);
    } catch (error) {
      if (error instanceof MysqlProtocolViolation)
        throw new MaskingFailure(`a row could not be read: ${error.reason}`);
      throw error;
    }
    if (!this.needsWork) return payload;
    const spans = this.spans;
    let copy: Buffer | undefined;
    /** Where the payload starts in `copy`: after the header when the whole packet was copied. */
    const offset = raw !== undefined && raw.length === payload.length + 4 ? 4 : 0;
    let masked = 0;
    let resized = false;
    for (let i = 0; i < count; i++) {
      this.replaced[i] = undefined;
      const column = this.plan[i]!;
      if (spans[3 * i] === -1 || column.action === Action.Pass) continue;
      const start = spans[3 * i + 1]!;
      const end = spans[3 * i + 2]!;
      if (column.action === Action.Rule && column.strategy!.applyInPlace !== undefined) {
        copy ??= copyOf(offset === 4 ? raw! : payload);
        if (column.strategy!.applyInPlace(copy, offset + start, offset + end, payload, start)) {
          masked++;
          continue;
        }
      } else if (column.action === Action.Detect && !column.scrubQuotes) {
        const found = this.values.scan(payload, start, end);
        if (found === Found.Nothing) continue;
        if (found === Found.InPlace) {
          copy ??= copyOf(offset === 4 ? raw! : payload);
          if (this.values.maskFoundInPlace(copy, offset + start, payload, start)) masked++;
          continue;
        }
        const outcome = this.values.maskFound(payload, start, end, column.type !== COLUMN_TYPE.JSON);
        if (!outcome.changed) continue;
        this.replaced[i] = outcome.value;
        masked++;
        resized = true;
        continue;
      }
      const outcome = this.maskValue(column, payload, start, end, binary);
      if (outcome === undefined) continue;
      this.replaced[i] = outcome;
      masked++;
      resized = true;
    }
    if (masked === 0) return payload;
    this.values.tally.noteMaskedRow(masked);
    const base = copy === undefined ? payload : copy.subarray(offset);
    if (resized) {
      return binary
        ? rebuildBinaryRow(base, this.types, spans, this.replaced)
        : rebuildTextRow(base, count, spans, this.replaced);
    }
    if (offset === 4) this.framed = copy;
    return base;
  }

  // ---- planning -------------------------------------------------------------------------------------------

  private columnPlan(column: ColumnDefinition, scrubQuotes: boolean): ColumnPlan {
    const category = typeCategory(column.type);
    if (category === undefined)
      throw new MaskingFailure(`column ${column.name.slice(0, 64)} has an unknown type ${column.type}`);
    const base = {
      type: column.type,
      unsigned: (column.flags & UNSIGNED_FLAG) !== 0,
      scrubQuotes: scrubQuotes && column.orgTable === "" && category === "text",
    };
    const strategy = this.ruleFor(column);
    if (strategy !== undefined) return { ...base, action: ruleAction(category), strategy };
    if (base.scrubQuotes) return { ...base, action: Action.Detect };
    if (!this.values.detects) return { ...base, action: Action.Pass };
    if (category === "text" || category === "json") return { ...base, action: Action.Detect };
    if (category === "number" || category === "opaque") return { ...base, action: Action.CheckToNull };
    return { ...base, action: Action.Pass };
  }

  private ruleFor(column: ColumnDefinition): MaskingStrategy | undefined {
    if (!this.hasColumnRules || column.orgTable === "" || column.orgName === "") return undefined;
    const tableColumn = `${column.orgTable}.${column.orgName}`.toLowerCase();
    if (column.schema === "") return this.byTableColumn.get(tableColumn);
    return this.profile.columns.get(`${column.schema.toLowerCase()}.${tableColumn}`);
  }

  // ---- values -----------------------------------------------------------------------------------------------

  /** The replacement (null: NULL), or undefined to keep the value. */
  private maskValue(
    column: ColumnPlan,
    payload: Buffer,
    start: number,
    end: number,
    binary: boolean,
  ): Buffer | null | undefined {
    switch (column.action) {
      case Action.Rule: {
        const outcome = this.values.wholeValue(payload, start, end, column.strategy!);
        return outcome.changed ? outcome.value : undefined;
      }
      case Action.RuleJson: {
        const masked = column.strategy!.apply(payload.toString("utf8", start, end));
        return masked === null ? null : Buffer.from(JSON.stringify(masked), "utf8");
      }
      case Action.RuleNull:
        return null;
      case Action.Detect: {
        let text: Buffer | null | undefined;
        if (this.values.detects) {
          const outcome = this.values.detect(payload, start, end, column.type !== COLUMN_TYPE.JSON);
          if (outcome.changed) text = outcome.value;
        }
        if (!column.scrubQuotes || text === null) return text;
        const before = (text ?? payload.subarray(start, end)).toString("utf8");
        const scrubbed = scrubQuotedValues(before);
        return scrubbed === before ? text : Buffer.from(scrubbed, "utf8");
      }
      case Action.CheckToNull: {
        const rendered = binary
          ? binaryNumberText(column, payload, start, end)
          : payload.toString("latin1", start, end);
        return this.values.finds(rendered) ? null : undefined;
      }
      default:
        return undefined;
    }
  }
}

function ruleAction(category: TypeCategory): Action {
  if (category === "text") return Action.Rule;
  if (category === "json") return Action.RuleJson;
  return Action.RuleNull;
}

/** A binary-protocol number as text for the detectors; other values (decimals, bits) as their bytes. */
function binaryNumberText(column: ColumnPlan, payload: Buffer, start: number, end: number): string {
  const u = column.unsigned;
  switch (column.type) {
    case COLUMN_TYPE.TINY:
      return String(u ? payload.readUInt8(start) : payload.readInt8(start));
    case COLUMN_TYPE.SHORT:
    case COLUMN_TYPE.YEAR:
      return String(u ? payload.readUInt16LE(start) : payload.readInt16LE(start));
    case COLUMN_TYPE.LONG:
    case COLUMN_TYPE.INT24:
      return String(u ? payload.readUInt32LE(start) : payload.readInt32LE(start));
    case COLUMN_TYPE.LONGLONG:
      return String(u ? payload.readBigUInt64LE(start) : payload.readBigInt64LE(start));
    case COLUMN_TYPE.FLOAT:
      return String(payload.readFloatLE(start));
    case COLUMN_TYPE.DOUBLE:
      return String(payload.readDoubleLE(start));
    default:
      return payload.toString("latin1", start, end);
  }
}

/**
 * MySQL error and warning texts quote the values they echo in single quotes ("Duplicate entry '...' for key").
 * Everything from the first quote to the last is replaced, so a value holding a quote cannot leak a piece; a
 * lone quote (a value cut short by the server) hides the rest of the text.
 */
export function scrubQuotedValues(text: string): string {
  const first = text.indexOf("'");
  if (first === -1) return text;
  const last = text.lastIndexOf("'");
  if (last === first) return `${text.slice(0, first)}'[masked]`;
  return `${text.slice(0, first)}'[masked]'${text.slice(last + 1)}`;
}
