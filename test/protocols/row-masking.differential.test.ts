/**
 * The row adapters (PostgreSQL DataRows, MySQL text rows) against masking each value on its own with the
 * ValueMasker of before (test/masking/reference/value-masker-before.ts) and encoding the row again: since
 * issue 12 they mask found spans and same-length rules straight into one copy of the row or packet, and must
 * send the same bytes. Random rows of random and adversarial values (NULLs, non-ASCII, long values), column
 * rules and detectors under random strategies.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BUILTIN_DETECTOR_NAMES } from "../../src/masking/detectors.js";
import { type CompiledMaskingProfile, compileMaskingProfiles } from "../../src/masking/masking-profile.js";
import { CAPABILITY } from "../../src/protocols/mysql/capabilities.js";
import { type MysqlMessage, PacketReader } from "../../src/protocols/mysql/packet-reader.js";
import { encodePacket, PayloadWriter } from "../../src/protocols/mysql/packet-writer.js";
import { ResponseTracker } from "../../src/protocols/mysql/response-tracker.js";
import { MysqlResultMasker } from "../../src/protocols/mysql/result-masker.js";
import type { Frame } from "../../src/protocols/postgres/messages.js";
import { createResultMasker } from "../../src/protocols/postgres/result-masker.js";
import { encodeDataRowValues, encodeRowDescriptionFields } from "../../src/protocols/postgres/row-codec.js";
import { ColumnProvenance } from "../../src/sql/postgres/column-provenance.js";
import { ValueMasker as ValueMaskerBefore } from "../masking/reference/value-masker-before.js";

const COLUMNS = ["a", "b", "c", "d", "e", "f"];
/** Columns b and e are masked by rule; the others go through the detectors. */
const RULED = new Set([1, 4]);

type Strategy = "partial" | "redact" | "null" | "hash";
const strategyOf = fc.constantFrom<Strategy>("partial", "redact", "null", "hash");

function profile(
  ruleStrategy: Strategy,
  detectorStrategy: Strategy,
  database: string,
): CompiledMaskingProfile {
  return compileMaskingProfiles(
    ["p"],
    {
      p: {
        detectors: BUILTIN_DETECTOR_NAMES.map((name) => ({ name, strategy: detectorStrategy })),
        custom_detectors: [],
        columns: [...RULED].map((i) => ({ column: `users.${COLUMNS[i]}`, strategy: ruleStrategy })),
        strategy: "partial",
        keep_last: 4,
        hash_key: { env: "UNUSED" },
        on_derived: "mask",
        strict: false,
      },
    } as never,
    () => "0123456789abcdef0123",
    database,
  );
}

const piece = fc.constantFrom(
  "4242 4242 4242 4242",
  "123-45-6789",
  "ada@example.com",
  "+1 415-555-0132",
  "10.0.0.1",
  "AKIAIOSFODNN7EXAMPLE",
  "é",
  "€",
  " ",
  "-",
  "note",
  "2024-05-17 12:34:56",
);
const text = fc.oneof(
  fc.array(piece, { maxLength: 6 }).map((parts) => parts.join("")),
  fc.string({ maxLength: 30 }),
  fc.tuple(piece, fc.integer({ min: 10, max: 300 })).map(([p, n]) => `${p} `.repeat(n)),
);
const rows = fc.array(fc.array(fc.option(text, { nil: null }), { minLength: 6, maxLength: 6 }), {
  minLength: 1,
  maxLength: 8,
});

/** What the old masker makes of value i of a row: the bytes to send, or null for NULL. */
function expected(
  old: ValueMaskerBefore,
  p: CompiledMaskingProfile,
  schema: string,
  i: number,
  value: string,
) {
  const bytes = Buffer.from(value, "utf8");
  const outcome = RULED.has(i)
    ? old.wholeValue(bytes, 0, bytes.length, p.columns.get(`${schema}.users.${COLUMNS[i]}`)!)
    : old.detect(bytes, 0, bytes.length, true);
  return outcome.changed ? outcome.value : bytes;
}

const frame = (raw: Buffer): Frame => ({ type: raw[0]!, raw, body: raw.subarray(5) });

describe("PostgreSQL DataRows", () => {
  it("are masked as value-by-value masking with the old masker", async () => {
    await fc.assert(
      fc.asyncProperty(strategyOf, strategyOf, rows, async (ruleStrategy, detectorStrategy, data) => {
        const p = profile(ruleStrategy, detectorStrategy, "public");
        const catalog = async () =>
          new Map(COLUMNS.map((name, i) => [i + 1, `public.users.${name}`] as const));
        const masker = createResultMasker(p, new ColumnProvenance(catalog));
        const fields = COLUMNS.map((name, i) => ({
          name,
          tableOid: 16_384,
          attributeNumber: i + 1,
          typeOid: 25,
          typeSize: -1,
          typeModifier: -1,
          format: 0,
        }));
        const description = frame(encodeRowDescriptionFields(fields));
        await masker.prepare(description);
        masker.onServerFrame(description);
        const old = new ValueMaskerBefore(p.detectors);
        // Every row sent, kept to the end: a row masked in a (pooled) copy must not share bytes with a later
        // one, nor with the frame it came in, which stays as it was.
        const sent: [Buffer, string][] = [];
        for (const values of data) {
          const raw = encodeDataRowValues(values.map((v) => (v === null ? null : Buffer.from(v, "utf8"))));
          const want = encodeDataRowValues(
            values.map((v, i) => (v === null ? null : expected(old, p, "public", i, v))),
          );
          const received = Buffer.from(raw);
          const out = masker.onServerFrame(frame(received))!;
          expect(out.toString("hex")).toBe(want.toString("hex"));
          expect(received.equals(raw)).toBe(true);
          sent.push([out, want.toString("hex")]);
        }
        for (const [out, want] of sent) expect(out.toString("hex")).toBe(want);
      }),
      { numRuns: 150 },
    );
  });
});

const CAPS = CAPABILITY.PROTOCOL_41 | CAPABILITY.DEPRECATE_EOF;

function columnDef(name: string): Buffer {
  const w = new PayloadWriter().lenencString("def").lenencString("shop").lenencString("users");
  w.lenencString("users").lenencString(name).lenencString(name).lenencInt(0x0c).u16(224).u32(255).u8(253);
  return w.u16(0).u8(0).zeros(2).build();
}

function textRow(values: readonly (Buffer | null)[]): Buffer {
  const w = new PayloadWriter();
  for (const value of values) {
    if (value === null) w.u8(0xfb);
    else w.lenencString(value);
  }
  return w.build();
}

describe("MySQL text rows", () => {
  it("are masked as value-by-value masking with the old masker", () => {
    fc.assert(
      fc.property(strategyOf, strategyOf, rows, (ruleStrategy, detectorStrategy, data) => {
        const p = profile(ruleStrategy, detectorStrategy, "shop");
        const old = new ValueMaskerBefore(p.detectors);
        const payloads = [
          Buffer.from([COLUMNS.length]),
          ...COLUMNS.map(columnDef),
          ...data.map((values) => textRow(values.map((v) => (v === null ? null : Buffer.from(v, "utf8"))))),
          Buffer.from([0xfe, 0, 0, 0x02, 0, 0, 0]),
        ];
        const reader = new PacketReader({ maxMessageBytes: 1 << 24 });
        for (const [i, payload] of payloads.entries()) reader.push(encodePacket(payload, (i + 1) & 0xff));
        const messages: MysqlMessage[] = [];
        for (let m = reader.next(); m !== undefined; m = reader.next()) messages.push(m);
        const masker = new MysqlResultMasker(p, CAPS, () => undefined);
        masker.begin({ binary: false, echoesDiagnostics: false });
        const tracker = new ResponseTracker(CAPS);
        const sent: string[] = [];
        for (const message of messages) {
          tracker.push(message.payload);
          const out = masker.relay(message, tracker.kind);
          if (tracker.kind === "row") sent.push(out!.toString("hex"));
        }
        const want = data.map((values, r) =>
          encodePacket(
            textRow(values.map((v, i) => (v === null ? null : expected(old, p, "shop", i, v)))),
            (COLUMNS.length + 2 + r) & 0xff,
          ).toString("hex"),
        );
        expect(sent).toEqual(want);
      }),
      { numRuns: 150 },
    );
  });
});
