import net from "node:net";
import { Writable } from "node:stream";
import tls from "node:tls";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../../../src/config/schema.js";
import { createMetrics } from "../../../src/observability/metrics.js";
import { handlePostgresClient, type PostgresFrontDeps } from "../../../src/protocols/postgres/front.js";

/**
 * psql without a password gives up at the password prompt (it closes, asks the user, and reconnects): a normal
 * disconnect, counted as an abandoned handshake and logged at debug, never an error with a stack trace (issue 18).
 */

function startupMessage(user: string, database: string): Buffer {
  const body = Buffer.concat([
    Buffer.from([0, 3, 0, 0]),
    Buffer.from(`user\0${user}\0database\0${database}\0\0`),
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length + 4);
  return Buffer.concat([length, body]);
}

interface LogLine {
  level: number;
  msg: string;
  err?: unknown;
  stage?: string;
}

let server: net.Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function gatewayFront() {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const metrics = createMetrics();
  const deps = {
    config: configSchema.parse({ tls: { allow_plaintext: true }, limits: { startup_timeout: "5s" } }),
    tls: tls.createSecureContext({}),
    gate: {} as never,
    classifier: {} as never,
    pipeline: {} as never,
    metrics,
    log: pino({ level: "debug" }, sink),
    cancels: {} as never,
    masking: new Map(),
  } satisfies PostgresFrontDeps;
  const handled: Promise<void>[] = [];
  server = net.createServer((socket) => handled.push(handlePostgresClient(socket, deps)));
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const abandoned = async (reason: string) =>
    (await metrics.handshakesAbandoned.get()).values.find(
      (value) => value.labels.reason === reason && value.labels.protocol === "postgres",
    )?.value ?? 0;
  return { port, lines, abandoned, handled };
}

/** Sends a startup packet, and hangs up (end or reset) as soon as the gateway asks for the password. */
function giveUpAtPasswordPrompt(port: number, how: "end" | "reset"): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(startupMessage("agent", "app")));
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      // AuthenticationCleartextPassword: 'R', length 8, code 3.
      if (chunk[0] === 0x52 && chunk.readUInt32BE(5) === 3) {
        if (how === "end") socket.end();
        else socket.resetAndDestroy();
      }
    });
    socket.on("close", () => resolve());
  });
}

describe("a client that closes at the password prompt (issue 18)", () => {
  for (const how of ["end", "reset"] as const) {
    it(`(${how}) is an abandoned handshake at debug, not an error`, async () => {
      const front = await gatewayFront();
      await giveUpAtPasswordPrompt(front.port, how);
      await Promise.all(front.handled);
      expect(front.lines.filter((line) => line.level >= 40)).toEqual([]);
      expect(front.lines.some((line) => line.err !== undefined)).toBe(false);
      const debug = front.lines.filter((line) => line.msg === "handshake abandoned");
      expect(debug).toHaveLength(1);
      expect(debug[0]).toMatchObject({ level: 20, stage: "authentication" });
      expect(await front.abandoned("closed")).toBe(1);
    });
  }
});
