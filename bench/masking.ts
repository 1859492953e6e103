/**
 * Masking cost: a 1,000-row x 10-column result with 3 masked columns (column rules) and every built-in content
 * detector scanning the other 7, against the same frames through an inactive masker. Prints microseconds per
 * 1,000 rows. Target: under 2 ms added per 1,000 rows.
 *
 *   node --import tsx bench/masking.ts
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { compileMaskingProfiles } from "../src/masking/masking-profile.js";
import type { Frame } from "../src/protocols/postgres/messages.js";
import { createResultMasker, type ResultMasker } from "../src/protocols/postgres/result-masker.js";
import {
  encodeDataRowValues,
  encodeRowDescriptionFields,
  type FieldDescription,
} from "../src/protocols/postgres/row-codec.js";
import { ColumnProvenance } from "../src/sql/postgres/column-provenance.js";
import { median } from "./median.js";

const TABLE_OID = 16_384;
const COLUMNS = ["id", "name", "ssn", "card", "email", "city", "created_at", "status", "amount", "notes"];
const TEXT = 25;
const fields: FieldDescription[] = COLUMNS.map((name, i) => ({
  name,
  tableOid: TABLE_OID,
  attributeNumber: i + 1,
  typeOid: TEXT,
  typeSize: -1,
  typeModifier: -1,
  format: 0,
}));

function row(i: number): Buffer {
  const values = [
    String(i),
    `Person Number${i}`,
    `${String(100 + (i % 800)).padStart(3, "0")}-${String(10 + (i % 89))}-${String(1000 + i).slice(-4)}`,
    "4242 4242 4242 4242",
    `person${i}@example.com`,
    "Springfield",
    "2024-05-17 12:34:56.789+00",
    i % 7 === 0 ? "refunded" : "paid",
    `${(i * 37) % 10_000}.${String(i % 100).padStart(2, "0")}`,
    `free text note number ${i}, nothing sensitive here`,
  ];
  return encodeDataRowValues(values.map((v) => Buffer.from(v)));
}

function asFrame(raw: Buffer): Frame {
  return { type: raw[0]!, raw, body: raw.subarray(5) };
}

const ROWS = 1_000;
const description = asFrame(encodeRowDescriptionFields(fields));
const rows = Array.from({ length: ROWS }, (_, i) => asFrame(row(i)));
const complete = asFrame(Buffer.from([0x43, 0, 0, 0, 15, ...Buffer.from("SELECT 1000"), 0]));

const catalog = async () => new Map(COLUMNS.map((name, i) => [i + 1, `public.users.${name}`] as const));

export async function masker(masked: boolean, detectors: string[] = ["all"]): Promise<ResultMasker> {
  const profile = compileMaskingProfiles(masked ? ["pii"] : [], {
    pii: {
      detectors,
      custom_detectors: [],
      columns: ["users.ssn", "users.card", "users.notes"],
      strategy: "partial",
      keep_last: 4,
      on_derived: "mask",
      strict: false,
    },
  });
  // A clock that stands still: the catalog entries never expire, however slowly the passes run (callgrind).
  const result = createResultMasker(profile, new ColumnProvenance(catalog, { now: () => 0 }));
  await result.prepare(description);
  return result;
}

export function runOnce(m: ResultMasker): number {
  const start = performance.now();
  let bytes = 0;
  m.onServerFrame(description);
  for (const frame of rows) bytes += m.onServerFrame(frame)!.length;
  m.onServerFrame(complete);
  const elapsed = performance.now() - start;
  if (bytes === 0) throw new Error("nothing sent");
  return elapsed;
}

export interface MaskingCost {
  rows: number;
  columns: number;
  runs: number;
  /** Median µs for 1,000 rows through an inactive masker. */
  unmaskedUs: number;
  /** Median µs added by 3 column rules + every detector on the other 7 columns (the figure). */
  allDetectorsAddedUs: number;
  /** Median µs added by the 3 column rules alone. */
  columnRulesAddedUs: number;
  /** Fastest pass with all detectors minus the fastest inactive pass: the figure least disturbed by load. */
  allDetectorsAddedMinUs: number;
  columnRulesAddedMinUs: number;
}

/** Medians of `runs` timed passes after `runs` warm-up passes, the variants interleaved so noise hits all. */
export async function measureMasking(runs = 300): Promise<MaskingCost> {
  const plain = await masker(false);
  const variants = [await masker(true), await masker(true, [])];
  for (let i = 0; i < Math.max(50, Math.floor(runs / 1.5)); i++) {
    runOnce(plain);
    for (const m of variants) runOnce(m);
  }
  const plainTimes: number[] = [];
  const times = variants.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    plainTimes.push(runOnce(plain));
    for (const [v, m] of variants.entries()) times[v]!.push(runOnce(m));
  }
  const unmaskedUs = median(plainTimes) * 1000;
  const minUs = (values: number[]) => Math.min(...values) * 1000;
  return {
    rows: ROWS,
    columns: COLUMNS.length,
    runs,
    unmaskedUs,
    allDetectorsAddedUs: median(times[0]!) * 1000 - unmaskedUs,
    columnRulesAddedUs: median(times[1]!) * 1000 - unmaskedUs,
    allDetectorsAddedMinUs: minUs(times[0]!) - minUs(plainTimes),
    columnRulesAddedMinUs: minUs(times[1]!) - minUs(plainTimes),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cost = await measureMasking();
  console.log(`rows: ${cost.rows} x ${cost.columns} text columns; median of ${cost.runs} runs`);
  console.log(`unmasked (inactive masker): ${cost.unmaskedUs.toFixed(0)} µs per 1,000 rows`);
  const added = (name: string, us: number, minUs: number) =>
    console.log(
      `${name}: added ${us.toFixed(0)} µs per 1,000 rows, fastest pass ${minUs.toFixed(0)} µs (target < 2000)`,
    );
  added(
    "3 column rules + all 12 detectors on the other 7 columns (emails masked too)",
    cost.allDetectorsAddedUs,
    cost.allDetectorsAddedMinUs,
  );
  added("3 column rules, no content detectors", cost.columnRulesAddedUs, cost.columnRulesAddedMinUs);
}
