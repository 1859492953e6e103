import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { checkChainAnchor, parseChainAnchor } from "../../src/audit/chain-anchor.js";
import { computeEventHash, GENESIS_HASH } from "../../src/audit/event-hash.js";
import { type StoredEventRow, verifyEventChain } from "../../src/audit/verify-chain.js";

/** Builds a correctly chained log of n events. */
function chain(n: number): StoredEventRow[] {
  const rows: StoredEventRow[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const fields = {
      prevHash,
      seq,
      ts: `2025-01-01T00:00:${String(seq).padStart(2, "0")}.000Z`,
      kind: "operation",
      sessionId: "s-1",
      dataJson: canonicalJson({ n: seq }),
    };
    const hash = computeEventHash(fields);
    rows.push({ ...fields, hash });
    prevHash = hash;
  }
  return rows;
}

const headOf = (rows: StoredEventRow[]) => {
  const last = rows[rows.length - 1]!;
  return { seq: last.seq, hash: last.hash };
};

describe("verifyEventChain", () => {
  it("accepts an intact chain and reports its head", () => {
    const rows = chain(5);
    expect(verifyEventChain(rows, headOf(rows))).toEqual({
      ok: true,
      events: 5,
      head: headOf(rows),
      end: headOf(rows),
    });
  });

  it("accepts an empty log whose head record is at 0", () => {
    expect(verifyEventChain([], { seq: 0, hash: GENESIS_HASH })).toMatchObject({ ok: true, events: 0 });
  });

  it("finds edited data at the edited event", () => {
    const rows = chain(5);
    const head = headOf(rows);
    rows[2] = { ...rows[2]!, dataJson: canonicalJson({ n: 999 }) };
    expect(verifyEventChain(rows, head)).toMatchObject({ ok: false, firstBadSeq: 3, events: 2 });
  });

  it("finds an edited hash at the edited event, even if the next prev_hash is edited to match", () => {
    const rows = chain(5);
    const head = headOf(rows);
    rows[1] = { ...rows[1]!, hash: "f".repeat(64) };
    rows[2] = { ...rows[2]!, prevHash: "f".repeat(64) };
    expect(verifyEventChain(rows, head)).toMatchObject({ ok: false, firstBadSeq: 2 });
  });

  it("finds a deleted middle event as a gap", () => {
    const rows = chain(5);
    const head = headOf(rows);
    rows.splice(2, 1);
    const result = verifyEventChain(rows, head);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 3 });
    expect(result.problem).toMatch(/event 3 is missing/);
  });

  it("finds a deleted middle event even when later seqs were renumbered to close the gap", () => {
    const rows = chain(5);
    const head = headOf(rows);
    rows.splice(2, 1);
    const renumbered = rows.map((row, i) => ({ ...row, seq: i + 1 }));
    expect(verifyEventChain(renumbered, head)).toMatchObject({ ok: false, firstBadSeq: 3 });
  });

  it("finds a truncated tail only through the head record", () => {
    const rows = chain(5);
    const head = headOf(rows);
    const truncated = rows.slice(0, 3);
    expect(verifyEventChain(truncated, headOf(truncated)).ok).toBe(true);
    const result = verifyEventChain(truncated, head);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 4 });
    expect(result.problem).toMatch(/removed from the end/);
  });

  it("reports a missing or lagging head record", () => {
    const rows = chain(3);
    expect(verifyEventChain(rows, undefined)).toMatchObject({ ok: false, firstBadSeq: 4 });
    expect(verifyEventChain(rows, { seq: 2, hash: rows[1]!.hash })).toMatchObject({
      ok: false,
      firstBadSeq: 3,
    });
    expect(verifyEventChain(rows, { seq: 3, hash: "e".repeat(64) })).toMatchObject({
      ok: false,
      firstBadSeq: 3,
    });
  });

  it("reads on after a break (a later segment start may acknowledge it) and reports the first", () => {
    const rows = chain(4);
    rows[0] = { ...rows[0]!, kind: "session_end" };
    let read = 0;
    function* counted() {
      for (const row of rows) {
        read++;
        yield row;
      }
    }
    expect(verifyEventChain(counted(), headOf(rows))).toMatchObject({ ok: false, firstBadSeq: 1, events: 0 });
    expect(read).toBe(4);
  });
});

describe("chain anchors", () => {
  it("parses SEQ:HASH and rejects anything else", () => {
    const hash = "ab".repeat(32);
    expect(parseChainAnchor(`12:${hash}`)).toEqual({ seq: 12, hash });
    expect(parseChainAnchor(` 12:${hash.toUpperCase()} `)).toEqual({ seq: 12, hash });
    for (const bad of ["12", `x:${hash}`, `12:${hash.slice(1)}`, `-1:${hash}`, `1:${hash}00`]) {
      expect(() => parseChainAnchor(bad)).toThrow(/--expect-head/);
    }
  });

  it("accepts an anchor still in a grown chain and rejects a rewritten or truncated one", () => {
    const rows = chain(6);
    const report = verifyEventChain(rows, headOf(rows));
    const hashAt = (seq: number) => rows[seq - 1]?.hash;
    expect(checkChainAnchor(report, { seq: 4, hash: rows[3]!.hash }, hashAt).ok).toBe(true);
    expect(checkChainAnchor(report, { seq: 0, hash: GENESIS_HASH }, hashAt).ok).toBe(true);
    expect(checkChainAnchor(report, { seq: 4, hash: "1".repeat(64) }, hashAt)).toMatchObject({
      ok: false,
      firstBadSeq: 4,
    });
    expect(checkChainAnchor(report, { seq: 9, hash: "0".repeat(64) }, hashAt)).toMatchObject({
      ok: false,
      firstBadSeq: 7,
    });
  });
});

describe("breaks acknowledged by a segment start", () => {
  /** `rows` with an intact audit_segment_start listing `breaks` appended to them. */
  function withSegment(rows: StoredEventRow[], breaks: number[]): StoredEventRow[] {
    const last = rows[rows.length - 1]!;
    const fields = {
      prevHash: last.hash,
      seq: last.seq + 1,
      ts: "2025-01-02T00:00:00.000Z",
      kind: "audit_segment_start",
      sessionId: null,
      dataJson: canonicalJson({ reason: "test", operator: "t", breaks, found: [], repaired: [] }),
    };
    return [...rows, { ...fields, hash: computeEventHash(fields) }];
  }
  const edited = (rows: StoredEventRow[], index: number) => {
    rows[index] = { ...rows[index]!, dataJson: canonicalJson({ n: -1 }) };
    return rows;
  };

  it("finds every break, not only the first", () => {
    const rows = edited(edited(chain(6), 1), 4);
    const report = verifyEventChain(rows, headOf(rows));
    expect(report.problems?.map((p) => p.seq)).toEqual([2, 5]);
  });

  it("passes when a later segment start lists each break, and reports them as acknowledged", () => {
    const rows = withSegment(edited(edited(chain(6), 1), 4), [2, 5]);
    expect(verifyEventChain(rows, headOf(rows))).toMatchObject({
      ok: true,
      acknowledged: [
        { seq: 2, segmentSeq: 7 },
        { seq: 5, segmentSeq: 7 },
      ],
    });
  });

  it("fails on a break the segment start does not list, or one after it", () => {
    const unlisted = withSegment(edited(edited(chain(6), 1), 4), [2]);
    expect(verifyEventChain(unlisted, headOf(unlisted))).toMatchObject({ ok: false, firstBadSeq: 5 });
    const later = [...withSegment(edited(chain(4), 1), [2]), ...chain(6).slice(5)];
    const afterSegment = edited(later, 5);
    expect(verifyEventChain(afterSegment, undefined)).toMatchObject({ ok: false, firstBadSeq: 6 });
  });

  it("an anchor taken before the break was acknowledged still fails", () => {
    const intact = chain(4);
    const anchor = headOf(intact);
    const rows = withSegment(edited(chain(4), 1), [2]);
    const report = verifyEventChain(rows, headOf(rows));
    expect(report.ok).toBe(true);
    const hashAt = (seq: number) => rows[seq - 1]?.hash;
    expect(checkChainAnchor(report, anchor, hashAt)).toMatchObject({ ok: false, firstBadSeq: 2 });
    // Taken after the segment started, the same anchor logic passes.
    expect(checkChainAnchor(report, headOf(rows), hashAt).ok).toBe(true);
  });
});
