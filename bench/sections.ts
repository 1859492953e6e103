/**
 * The sections `npm run bench` runs, in order. A section measures one thing end to end (starting and stopping
 * its own services), prints its tables and returns what goes into bench/results/latest.json under its name.
 * `npm run bench -- --only <name>[,<name>]` runs a subset.
 *
 * To add a standalone bench (bench/http-bench.ts, bench/mysql-bench.ts, bench/mcp-bench.ts), add one line to
 * SECTIONS, e.g.
 *
 *   rowsSection("http", "HTTP gateway", async (ctx) => (await import("./http-bench.js")).runHttpBench(ctx)),
 *
 * where the function takes { quick } and returns rows (objects with the same keys, printed as a table).
 */
import { formatTable } from "./report.js";

export interface SectionContext {
  /** --quick: short runs and fewer rows, for development; the same tables. */
  quick: boolean;
  progress(message: string): void;
  /** Called with a section's stop function, so Ctrl-C can stop its services. */
  onStop(stop: () => Promise<void>): void;
}

export interface SectionOutput {
  /** What to print (tables and notes). */
  text: string;
  /** What to store in latest.json. */
  json: unknown;
  /** False when something the section must measure could not be measured (exit status 2). */
  complete: boolean;
}

export interface BenchSection {
  name: string;
  title: string;
  run(ctx: SectionContext): Promise<SectionOutput>;
}

export type Row = Record<string, string | number | boolean | null>;

/** A section from a function returning rows: printed as one table, stored as the array. */
export function rowsSection(
  name: string,
  title: string,
  rows: (ctx: SectionContext) => Promise<readonly Row[]>,
): BenchSection {
  return {
    name,
    title,
    async run(ctx) {
      const result = await rows(ctx);
      return { text: formatRows(result), json: result, complete: true };
    },
  };
}

export function formatRows(rows: readonly Row[]): string {
  if (rows.length === 0) return "(no rows)";
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cell = (value: Row[string] | undefined) =>
    value === null || value === undefined
      ? "n/a"
      : typeof value === "number"
        ? formatNumber(value)
        : String(value);
  return formatTable([columns, ...rows.map((row) => columns.map((column) => cell(row[column])))]);
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(3);
}

/** Picks the sections --only names, in SECTIONS order; unknown names are an error that lists the known ones. */
export function selectSections(all: readonly BenchSection[], only: string | undefined): BenchSection[] {
  if (only === undefined) return [...all];
  const wanted = only
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = wanted.filter((name) => !all.some((section) => section.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown section ${unknown.join(", ")}: known sections are ${all.map((s) => s.name).join(", ")}`,
    );
  }
  return all.filter((section) => wanted.includes(section.name));
}
