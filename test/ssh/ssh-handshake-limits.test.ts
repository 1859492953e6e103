import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { createMetrics } from "../../src/observability/metrics.js";
import type { Admitter } from "../../src/pipeline/pipeline-types.js";
import { encodeSshDisconnectBeforeKex, SSH_DISCONNECT_REASON } from "../../src/protocols/ssh/disconnect.js";
import { type SshListener, startSshListener } from "../../src/protocols/ssh/front.js";
import type { SessionGate } from "../../src/session/session-gate.js";

/**
 * The SSH front before authentication (issue 10), in-process and without an upstream: nobody here gets as far
 * as a login, so the gate and the pipeline are never asked.
 */

const metrics = createMetrics();
let dir: string;
let listener: SshListener;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-ssh-limits-"));
  const config = configSchema.parse({
    listen: { ssh: "127.0.0.1:0" },
    data_dir: dir,
    identity: { dev_issuer: true },
    policies: dir,
    log_level: "silent",
    limits: { startup_timeout: "1s", max_connections: 10, max_handshakes_per_address: 2 },
  });
  listener = await startSshListener({
    config,
    gate: {} as SessionGate,
    pipeline: {} as Admitter,
    metrics,
    log: pino({ level: "silent" }),
  });
});

afterAll(async () => {
  await listener?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Naive reading of an unencrypted SSH binary packet carrying SSH_MSG_DISCONNECT. */
function readDisconnect(packet: Buffer): { reason: number; description: string; padding: number } {
  const length = packet.readUInt32BE(0);
  expect(packet.length).toBe(4 + length);
  expect(packet.length % 8).toBe(0);
  expect(packet[5]).toBe(1);
  const textLength = packet.readUInt32BE(10);
  expect(packet.readUInt32BE(14 + textLength)).toBe(0); // empty language tag
  return {
    reason: packet.readUInt32BE(6),
    description: packet.subarray(14, 14 + textLength).toString("utf8"),
    padding: packet[4]!,
  };
}

function connect(): Promise<{ socket: net.Socket; received: () => Buffer; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(listener.address.port, "127.0.0.1");
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.once("error", reject);
    socket.once("connect", () => resolve({ socket, received: () => Buffer.concat(chunks), closed }));
  });
}

async function counter(name: "connectionsRefused" | "handshakesAbandoned", reason: string): Promise<number> {
  const { values } = await metrics[name].get();
  return values.find((v) => v.labels.protocol === "ssh" && v.labels.reason === reason)?.value ?? 0;
}

describe("SSH before authentication", () => {
  it("encodes a disconnect as a whole number of 8-byte blocks with 4 to 11 bytes of padding", () => {
    for (let length = 0; length < 24; length++) {
      const description = "x".repeat(length);
      const decoded = readDisconnect(
        encodeSshDisconnectBeforeKex(SSH_DISCONNECT_REASON.TOO_MANY_CONNECTIONS, description),
      );
      expect(decoded).toMatchObject({ reason: 1, description });
      expect(decoded.padding).toBeGreaterThanOrEqual(4);
      expect(decoded.padding).toBeLessThan(12);
    }
    expect(readDisconnect(encodeSshDisconnectBeforeKex(2, "é".repeat(300))).description).toHaveLength(200);
    // 401 bytes: cut before the last "é" rather than inside it.
    expect(readDisconnect(encodeSshDisconnectBeforeKex(2, `x${"é".repeat(200)}`)).description).toBe(
      `x${"é".repeat(199)}`,
    );
  });

  it("one address cannot hold more than max_handshakes_per_address handshakes: the next is told why", async () => {
    const idle = [await connect(), await connect()];
    const refused = await connect();
    await refused.closed;
    const bytes = refused.received();
    const eol = bytes.indexOf("\r\n");
    expect(bytes.subarray(0, eol).toString()).toBe("SSH-2.0-Latch");
    expect(readDisconnect(bytes.subarray(eol + 2))).toMatchObject({
      reason: 1,
      description: expect.stringContaining("still in their handshake (limit 2)"),
    });
    expect(await counter("connectionsRefused", "too_many_handshakes")).toBe(1);
    for (const client of idle) client.socket.destroy();
    await Promise.all(idle.map((client) => client.closed));
  });

  it("a client that sends its identification line and then nothing is closed at the deadline too", async () => {
    const before = await counter("handshakesAbandoned", "timeout");
    const client = await connect();
    client.socket.write("SSH-2.0-probe\r\n");
    const started = performance.now();
    await Promise.race([client.closed, new Promise((resolve) => setTimeout(resolve, 4000))]);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThan(800);
    expect(elapsed).toBeLessThan(4000);
    expect(await counter("handshakesAbandoned", "timeout")).toBe(before + 1);
  });
});
