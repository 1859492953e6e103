import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createCedarPolicyEngine } from "../../src/policy/create-cedar-engine.js";
import { AsciicastRecorder, type RecordingChunk } from "../../src/protocols/ssh/asciicast-recorder.js";
import { HOST_KEY_FILE, loadOrCreateHostKey } from "../../src/protocols/ssh/host-key.js";
import { sshOperation } from "../../src/protocols/ssh/ssh-operation.js";
import { hostKeyMatches, parseHostKeyPin } from "../../src/protocols/ssh/upstream.js";

describe("host key", () => {
  it("is created once with mode 0600 and stays the same across restarts", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "latch-hostkey-"));
    try {
      const first = loadOrCreateHostKey(dir);
      const second = loadOrCreateHostKey(dir);
      expect(second.fingerprint).toBe(first.fingerprint);
      expect(first.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(statSync(path.join(dir, HOST_KEY_FILE)).mode & 0o777).toBe(0o600);
      // The pin forms a client would write both match the key, and a different key matches neither.
      const blob = Buffer.from(first.publicLine.split(" ")[1] as string, "base64");
      expect(hostKeyMatches(parseHostKeyPin(`[gw]:2222 ${first.publicLine} comment`, "t"), blob)).toBe(true);
      expect(hostKeyMatches(parseHostKeyPin(first.fingerprint, "t"), blob)).toBe(true);
      const other = loadOrCreateHostKey(mkdtempSync(path.join(os.tmpdir(), "latch-hostkey-")));
      expect(hostKeyMatches(parseHostKeyPin(other.publicLine, "t"), blob)).toBe(false);
      expect(hostKeyMatches(parseHostKeyPin(other.fingerprint, "t"), blob)).toBe(false);
      expect(() => parseHostKeyPin("any", "t")).toThrow(/host_key must be/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("asciicast recorder", () => {
  it("keeps chunks bounded, splits nothing inside a UTF-8 character and caps the whole recording", async () => {
    const chunks: RecordingChunk[] = [];
    let clock = 0;
    const recorder = new AsciicastRecorder({
      recording: 1,
      header: { width: 80, height: 24, command: "x" },
      write: async (chunk) => {
        chunks.push(chunk);
      },
      onFailure: () => {},
      maxChunkBytes: 1024,
      maxRecordingBytes: 10_000,
      now: () => clock,
    });
    await recorder.ready;
    const euro = Buffer.from("€".repeat(600)); // 1800 bytes; fed split in the middle of a character
    recorder.output(euro.subarray(0, 1001), "stdout");
    clock = 1500;
    recorder.output(euro.subarray(1001), "stdout");
    recorder.resize(100, 30);
    recorder.output(Buffer.alloc(20_000, "a"), "stderr");
    recorder.close();
    expect(chunks[0]?.header).toMatchObject({ version: 2, width: 80, height: 24, command: "x" });
    for (const chunk of chunks) {
      const bytes = chunk.events.reduce((sum, [, , data]) => sum + Buffer.byteLength(data), 0);
      expect(bytes).toBeLessThanOrEqual(1024 + 64);
    }
    const events = chunks.flatMap((chunk) => chunk.events);
    const text = events
      .filter(([, code]) => code === "o")
      .map(([, , data]) => data)
      .join("");
    expect(text.startsWith("€".repeat(600))).toBe(true);
    expect(events).toContainEqual([1.5, "r", "100x30"]);
    expect(chunks.some((chunk) => chunk.truncated)).toBe(true);
    expect(text.length).toBeLessThan(10_000);
  });

  it("reports a store failure once so the channel can fail closed", async () => {
    const failures: unknown[] = [];
    const recorder = new AsciicastRecorder({
      recording: 1,
      header: { width: 80, height: 24 },
      write: async () => {
        throw new Error("disk full");
      },
      onFailure: (error) => failures.push(error),
    });
    await expect(recorder.ready).rejects.toThrow("disk full");
    recorder.output(Buffer.from("x"), "stdout");
    recorder.close();
    expect(failures).toHaveLength(1);
  });
});

describe("ssh policy", () => {
  it("decides on the command line and never serves one command's cached decision to another", () => {
    const engine = createCedarPolicyEngine({
      files: ["p.cedar"],
      warnings: [],
      policies: [
        {
          id: "p",
          file: "p.cedar",
          line: 1,
          effect: "permit",
          text: `permit(principal, action == Action::"ssh:exec", resource) when { context.command like "systemctl status *" };`,
        },
      ],
    });
    const identity = { subject: "a", issuer: "i", groups: [], expiresAt: Date.now() + 60_000 };
    const decide = (command: string) =>
      engine.authorize({
        identity,
        connection: "web-1",
        connectionLabels: {},
        steps: sshOperation({ sessionId: "s", connection: "web-1", identity }, "ssh:exec", command, "exec")
          .steps,
        clientAddress: "127.0.0.1",
        now: new Date(),
      }).decision;
    expect(decide("systemctl status app")).toBe("allow");
    expect(decide("systemctl stop app")).toBe("deny");
    expect(decide("systemctl status app")).toBe("allow");
    expect(decide("systemctl status app; rm -rf /")).toBe("allow"); // see docs/ssh.md: patterns are not a sandbox
  });
});
