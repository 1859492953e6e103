import { LatchError } from "../errors.js";
import { GENESIS_HASH } from "./event-hash.js";
import type { ChainHead, ChainVerificationReport } from "./verify-chain.js";

const ANCHOR_FORMAT = /^(\d{1,15}):([0-9a-f]{64})$/;

/** Parses `SEQ:HASH` as printed by `latch audit verify`. */
export function parseChainAnchor(text: string): ChainHead {
  const match = ANCHOR_FORMAT.exec(text.trim().toLowerCase());
  if (match === null) {
    throw new LatchError("config_invalid", {
      detail: `--expect-head must be SEQ:HASH as printed by "latch audit verify" (e.g. 42:<64 hex digits>), got "${text}"`,
    });
  }
  return { seq: Number(match[1]), hash: match[2]! };
}

/**
 * Checks a verified chain against a head recorded earlier outside the store. The chain may have grown since,
 * so the anchor must still be IN the chain: event `anchor.seq` exists and has exactly that hash. Because every
 * hash covers the one before it, this pins every event up to the anchor; it catches truncation and rewriting
 * even by someone who could also edit chain_head.
 */
export function checkChainAnchor(
  report: ChainVerificationReport,
  anchor: ChainHead,
  hashAt: (seq: number) => string | undefined,
): ChainVerificationReport {
  if (!report.ok) return report;
  if (anchor.seq > report.head.seq) {
    return {
      ...report,
      ok: false,
      firstBadSeq: report.head.seq + 1,
      problem: `the expected head is event ${anchor.seq} but the log ends at event ${report.head.seq}: events were removed from the end`,
    };
  }
  // A break at or before the anchor, acknowledged after it, is history rewritten since the anchor was taken.
  const resealed = report.acknowledged?.find(
    (found) => found.seq <= anchor.seq && found.segmentSeq > anchor.seq,
  );
  if (resealed !== undefined) {
    return {
      ...report,
      ok: false,
      firstBadSeq: resealed.seq,
      problem: `event ${resealed.seq} was broken (${resealed.problem}) and the break acknowledged at event ${resealed.segmentSeq}, after the expected head was taken`,
    };
  }
  // Every chain starts from the genesis hash, so "0:<genesis>" anchors nothing but is not wrong.
  const actual = anchor.seq === 0 ? GENESIS_HASH : hashAt(anchor.seq);
  if (actual !== anchor.hash) {
    return {
      ...report,
      ok: false,
      firstBadSeq: anchor.seq,
      problem: "its hash differs from the expected head: the log was rewritten from this event or earlier",
    };
  }
  return report;
}
