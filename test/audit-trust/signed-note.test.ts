import { describe, expect, it } from "vitest";
import { checkpointText, parseCheckpointText } from "../../src/audit/checkpoint-note.js";
import {
  generateSignerKey,
  openNote,
  parseSignerKey,
  parseVerifierKey,
} from "../../src/audit/signed-note.js";

// The example key and note of Go's golang.org/x/mod/sumdb/note (the C2SP signed-note reference implementation).
const GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

describe("C2SP signed notes", () => {
  it("matches the reference implementation byte for byte: keys, key hash and signature", () => {
    const signer = parseSignerKey(GO_SIGNER);
    expect(signer.verifierKey).toBe(GO_VERIFIER);
    expect(signer.sign(GO_TEXT)).toBe(GO_NOTE);
    expect(openNote(GO_NOTE, parseVerifierKey(GO_VERIFIER))).toEqual({ text: GO_TEXT, verified: true });
  });

  it("rejects an altered text, another key, and malformed keys", () => {
    const verifier = parseVerifierKey(GO_VERIFIER);
    expect(openNote(GO_NOTE.replace("answer", "answers"), verifier)).toMatchObject({
      verified: false,
      problem: expect.stringContaining("does not verify"),
    });
    const other = parseSignerKey(generateSignerKey("PeterNeumann", Buffer.alloc(32, 1)));
    expect(openNote(other.sign(GO_TEXT), verifier)).toMatchObject({
      verified: false,
      problem: expect.stringContaining("no signature by PeterNeumann"),
    });
    expect(() => parseVerifierKey(GO_VERIFIER.replace("c74f20a3", "c74f20a4"))).toThrow(
      /hash does not match/,
    );
    expect(() => parseVerifierKey("nonsense")).toThrow(/not a verifier key/);
    expect(() => parseSignerKey(GO_VERIFIER)).toThrow(/not a signer key/);
    expect(() => other.sign("no final newline")).toThrow(/note text/);
  });

  it("checkpoint text round-trips", () => {
    const checkpoint = {
      origin: "latch-audit",
      seq: 42,
      hash: "a".repeat(64),
      time: "2026-12-01T00:00:00.000Z",
    };
    expect(parseCheckpointText(checkpointText(checkpoint))).toEqual(checkpoint);
    expect(parseCheckpointText(`${checkpointText(checkpoint)}extra\n`)).toBeUndefined();
  });
});
