import type { LatchConfig } from "../config/schema.js";
import type { Access } from "../operation/operation.js";

/**
 * Data sensitivity as policy sees it: `resource.sensitivity` on a Table, and per statement
 * `context.statement.sensitivity` (the highest level of the tables it reads or writes) and
 * `context.statement.touches_masked`. Labels come from `connections.<name>.sensitivity` in latch.yaml; every
 * column under one of the connection's masking rules counts as at least "medium".
 *
 * Judged per table: a table counts at the level of its most sensitive labelled or masked column, because the
 * accesses policy sees name tables, not columns. That errs on the safe side (a read of payments.id counts as
 * high when payments.card is high).
 */

export const SENSITIVITY_LEVELS = ["none", "low", "medium", "high"] as const;
export type SensitivityLevel = (typeof SENSITIVITY_LEVELS)[number];

/** The level a masked column has unless it is labelled higher. */
export const MASKED_LEVEL: SensitivityLevel = "medium";

export interface TableSensitivity {
  readonly level: SensitivityLevel;
  /** A column of this table is under a masking rule. */
  readonly masked: boolean;
}

/** connection -> "schema.table" -> sensitivity. Tables not in it are "none", unmasked. */
export type SensitivityMap = ReadonlyMap<string, ReadonlyMap<string, TableSensitivity>>;

export interface StepSensitivity {
  readonly sensitivity: SensitivityLevel;
  readonly touchesMasked: boolean;
}

const NOTHING: StepSensitivity = { sensitivity: "none", touchesMasked: false };
const RANK: Record<SensitivityLevel, number> = { none: 0, low: 1, medium: 2, high: 3 };

export function higher(a: SensitivityLevel, b: SensitivityLevel): SensitivityLevel {
  return RANK[a] >= RANK[b] ? a : b;
}

/** "customers" -> public.customers; "public.payments" a table; "public.payments.card" that table's column. */
export function tableOfLabel(entry: string): string {
  const parts = entry.trim().toLowerCase().split(".");
  if (parts.length === 1) return `public.${parts[0]}`;
  return `${parts[0]}.${parts[1]}`;
}

/** A masking rule's column ("schema.table.column", or "table.column" in public) -> its table. */
function tableOfMaskedColumn(column: string): string {
  const parts = column.trim().toLowerCase().split(".");
  return parts.length >= 3 ? `${parts[0]}.${parts[1]}` : `public.${parts[0]}`;
}

export function sensitivityFromConfig(config: Pick<LatchConfig, "connections" | "masking">): SensitivityMap {
  const map = new Map<string, Map<string, TableSensitivity>>();
  for (const [name, connection] of Object.entries(config.connections)) {
    if (connection.type !== "postgres") continue;
    const tables = new Map<string, TableSensitivity>();
    const raise = (table: string, level: SensitivityLevel, masked: boolean) => {
      const known = tables.get(table);
      tables.set(table, {
        level: higher(known?.level ?? "none", level),
        masked: (known?.masked ?? false) || masked,
      });
    };
    for (const [level, entries] of Object.entries(connection.sensitivity ?? {})) {
      for (const entry of entries ?? []) raise(tableOfLabel(entry), level as SensitivityLevel, false);
    }
    for (const profile of connection.masking) {
      for (const rule of config.masking[profile]?.columns ?? []) {
        raise(tableOfMaskedColumn(typeof rule === "string" ? rule : rule.column), MASKED_LEVEL, true);
      }
    }
    if (tables.size > 0) map.set(name, tables);
  }
  return map;
}

export function tableSensitivity(map: SensitivityMap, connection: string, table: string): TableSensitivity {
  return map.get(connection)?.get(table) ?? NOTHING_TABLE;
}

const NOTHING_TABLE: TableSensitivity = { level: "none", masked: false };

/** The highest level among the step's tables, and whether any has a masked column. */
export function stepSensitivity(
  map: SensitivityMap,
  connection: string,
  accesses: readonly Access[],
): StepSensitivity {
  const tables = map.get(connection);
  if (tables === undefined) return NOTHING;
  let sensitivity: SensitivityLevel = "none";
  let touchesMasked = false;
  for (const access of accesses) {
    if (access.resource.type !== "Table") continue;
    const table = tables.get(access.resource.name);
    if (table === undefined) continue;
    sensitivity = higher(sensitivity, table.level);
    touchesMasked ||= table.masked;
  }
  return sensitivity === "none" && !touchesMasked ? NOTHING : { sensitivity, touchesMasked };
}
