/**
 * MySQL masking cost: a 1,000-row x 10-column text result, with 3 column rules only, and with the rules plus
 * every built-in detector scanning the other 7 columns, against an inactive relay (the raw packets). Prints
 * microseconds per 1,000 rows (median and fastest of 300 runs). The PostgreSQL figure is bench/masking.ts.
 *
 *   node --import tsx bench/mysql-masking.ts
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { compileMaskingProfiles } from "../src/masking/masking-profile.js";
import { CAPABILITY } from "../src/protocols/mysql/capabilities.js";
import { type MysqlMessage, PacketReader } from "../src/protocols/mysql/packet-reader.js";
import { encodePacket, PayloadWriter } from "../src/protocols/mysql/packet-writer.js";
import { ResponseTracker } from "../src/protocols/mysql/response-tracker.js";
import { MysqlResultMasker } from "../src/protocols/mysql/result-masker.js";

const CAPS = CAPABILITY.PROTOCOL_41 | CAPABILITY.DEPRECATE_EOF;
const COLUMNS = ["id", "name", "ssn", "card", "email", "city", "created_at", "status", "amount", "notes"];

function columnDef(name: string): Buffer {
  const w = new PayloadWriter().lenencString("def").lenencString("shop").lenencString("users");
  w.lenencString("users").lenencString(name).lenencString(name).lenencInt(0x0c).u16(224).u32(255).u8(253);
  return w.u16(0).u8(0).zeros(2).build();
}

function row(i: number): Buffer {
  const values = [
    String(i),
    `Person Number${i}`,
    `${String(100 + (i % 800)).padStart(3, "0")}-${String(10 + (i % 89))}-${String(1000 + i).slice(-4)}`,
    "4242 4242 4242 4242",
    `person${i}@example.com`,
    "Springfield",
    "2024-05-17 12:34:56.789",
    i % 7 === 0 ? "refunded" : "paid",
    `${(i * 37) % 10_000}.${String(i % 100).padStart(2, "0")}`,
    `free text note number ${i}, nothing sensitive here`,
  ];
  const w = new PayloadWriter();
  for (const value of values) w.lenencString(value);
  return w.build();
}

const payloads = [
  Buffer.from([COLUMNS.length]),
  ...COLUMNS.map(columnDef),
  ...Array.from({ length: 1000 }, (_, i) => row(i)),
  Buffer.from([0xfe, 0, 0, 0x02, 0, 0, 0]),
];
let sequence = 1;
const reader = new PacketReader({ maxMessageBytes: 1 << 24 });
for (const payload of payloads) reader.push(encodePacket(payload, sequence++ & 0xff));
const messages: MysqlMessage[] = [];
for (let m = reader.next(); m !== undefined; m = reader.next()) messages.push(m);

export function masker(detectors: string[]): MysqlResultMasker {
  const profile = compileMaskingProfiles(
    ["p"],
    {
      p: {
        detectors,
        custom_detectors: [],
        columns: ["users.ssn", "users.card", "users.email"],
        strategy: "partial",
        keep_last: 4,
        on_derived: "deny",
        strict: false,
      },
    } as never,
    undefined,
    "shop",
  );
  return new MysqlResultMasker(profile, CAPS, () => undefined);
}

export function run(m: MysqlResultMasker | undefined): number {
  const start = performance.now();
  const tracker = new ResponseTracker(CAPS);
  m?.begin({ binary: false, echoesDiagnostics: false });
  let bytes = 0;
  for (const message of messages) {
    tracker.push(message.payload);
    const out = m === undefined ? message.raw : m.relay(message, tracker.kind);
    bytes += out?.length ?? 0;
  }
  if (bytes === 0) throw new Error("nothing relayed");
  return performance.now() - start;
}

/** Median and fastest of 300 passes after 50 warm-up passes. */
function timed(m: MysqlResultMasker | undefined): { median: number; min: number } {
  for (let i = 0; i < 50; i++) run(m);
  const times = Array.from({ length: 300 }, () => run(m)).sort((a, b) => a - b);
  return { median: times[150]!, min: times[0]! };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const base = timed(undefined);
  const rules = timed(masker([]));
  const all = timed(masker(["all"]));
  const us = (ms: number) => (ms * 1000).toFixed(0);
  const added = (t: { median: number; min: number }) =>
    `+${us(t.median - base.median)} us / 1,000 rows (fastest pass +${us(t.min - base.min)} us)`;
  console.log(`tracker only:               ${us(base.median)} us / 1,000 rows`);
  console.log(`3 column rules:             ${added(rules)}`);
  console.log(`3 rules + all 12 detectors: ${added(all)}`);
}
