import type { MaskTally } from "../../masking/mask-tally.js";
import type { CompiledMaskingProfile } from "../../masking/masking-profile.js";
import { ValueMasker } from "../../masking/value-masker.js";
import { type ColumnProvenance, UNKNOWN_PROVENANCE } from "../../sql/postgres/column-provenance.js";
import { findMaskedColumnUses } from "../../sql/postgres/masking-facts.js";
import type { ResultField } from "./upstream.js";

export type MaskCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * The MCP payload adapter for rows over the masking core, with the same rules as the PostgreSQL row masker:
 * a column rule masks the whole value of a column whose provenance (table OID, attribute number) resolves to
 * it, content detectors scan every other value, a column that cannot be resolved withholds the result, and the
 * statement is checked first for masked columns used in expressions (on_derived), predicates (strict) or COPY.
 */
export class RowMasking {
  private readonly values: ValueMasker;

  constructor(
    private readonly profile: CompiledMaskingProfile,
    private readonly provenance: ColumnProvenance | undefined,
  ) {
    this.values = new ValueMasker(profile.detectors);
  }

  get active(): boolean {
    return this.profile.active;
  }

  /** Before the statement runs: rules that refuse it outright. */
  checkStatement(sql: string): MaskCheck {
    if (this.profile.columns.size === 0) return { ok: true };
    const facts = findMaskedColumnUses(sql, this.profile.columns.keys());
    if (!facts.ok) return { ok: false, reason: "the statement could not be analysed for masked columns" };
    for (const use of facts.uses) {
      if (use.place === "copy") return { ok: false, reason: `COPY of masked column ${use.column}` };
      if (use.place === "derived" && this.profile.onDerived === "deny")
        return { ok: false, reason: `masked column ${use.column} is used inside an expression` };
      if (use.place === "predicate" && this.profile.strict)
        return { ok: false, reason: `masked column ${use.column} is used in a predicate or ordering` };
    }
    return { ok: true };
  }

  /**
   * The rows with masked values, and the names of the columns masked by rule; throws when a column's
   * provenance cannot be resolved (the caller withholds the result). With a `tally` (tracing on), each row with
   * a masked value counts, as on PostgreSQL.
   */
  async mask(
    fields: readonly ResultField[],
    rows: readonly (readonly (string | null)[])[],
    tally?: MaskTally,
  ): Promise<{ rows: (string | null)[][]; maskedColumns: string[] }> {
    if (!this.profile.active) return { rows: rows.map((row) => [...row]), maskedColumns: [] };
    const rules = await this.columnRules(fields);
    const maskedColumns = fields.filter((_, i) => rules[i] !== undefined).map((field) => field.name);
    // From here on synchronous, so the shared value masker's hits are this result's.
    const hits = this.values.tally.detectorHits;
    const masked = rows.map((row) => {
      let changed = 0;
      const out = row.map((value, i) => {
        if (value === null) return null;
        const rule = rules[i];
        const result =
          rule !== undefined ? rule.apply(value) : this.values.detects ? this.values.maskText(value) : value;
        if (result !== value) changed++;
        return result;
      });
      if (changed > 0) tally?.noteMaskedRow(changed);
      return out;
    });
    if (tally !== undefined) tally.detectorHits += this.values.tally.detectorHits - hits;
    return { rows: masked, maskedColumns };
  }

  private async columnRules(fields: readonly ResultField[]) {
    if (this.profile.columns.size === 0 || this.provenance === undefined) return fields.map(() => undefined);
    await this.provenance.warm(fields.map((field) => field.tableOid));
    return fields.map((field) => {
      if (field.tableOid === 0) return undefined;
      const column = this.provenance!.resolve(field.tableOid, field.attributeNumber);
      if (column === UNKNOWN_PROVENANCE)
        throw new Error(`the origin of column "${field.name}" could not be resolved`);
      return column === undefined ? undefined : this.profile.columns.get(column);
    });
  }
}
