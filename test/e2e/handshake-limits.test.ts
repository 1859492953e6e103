import net from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeBackend } from "../../src/protocols/postgres/decode-backend.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

/**
 * Before anyone has authenticated (issue 10): one deadline bounds the whole handshake whatever the client sends,
 * one address cannot hold every handshake slot, a full gateway and a full upstream say so in PostgreSQL's own
 * words (53300), and probes that hang up are counted, not logged as errors.
 */

const GSSENC_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);

let cluster: PgCluster;
let gw: TestGateway;

beforeAll(async () => {
  // Room for two ordinary connections only (max_connections minus superuser_reserved_connections).
  cluster = await startPgCluster({ settings: { max_connections: "5", superuser_reserved_connections: "3" } });
  gw = await startTestGateway(cluster, {
    overrides: {
      listen: { postgres: "127.0.0.1:0", admin: "127.0.0.1:0" },
      tls: { allow_plaintext: true },
      limits: { startup_timeout: "1s", max_connections: 3, max_handshakes_per_address: 2 },
    },
  });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await cluster?.stop();
});

/** A raw client socket and everything the gateway sends it, until it closes. */
function rawClient(): Promise<{ socket: net.Socket; received: () => Buffer; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(gw.port, "127.0.0.1");
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.once("connect", () => resolve({ socket, received: () => Buffer.concat(chunks), closed }));
    socket.once("error", reject);
  });
}

/** The ErrorResponse in what the gateway sent (after any single-byte answers such as 'N'). */
function errorIn(bytes: Buffer): { code: string; message: string } | undefined {
  const start = bytes.indexOf(0x45);
  if (start === -1) return undefined;
  const frame = bytes.subarray(start);
  const decoded = decodeBackend({
    type: frame[0]!,
    raw: frame,
    body: frame.subarray(5, frame.readUInt32BE(1) + 1),
  });
  return decoded.kind === "ErrorResponse"
    ? { code: decoded.fields.code, message: decoded.fields.message }
    : undefined;
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

describe("pre-authentication limits", () => {
  it("a GSSENCRequest trickle does not extend the handshake: the deadline holds for the whole handshake", async () => {
    const { socket, received, closed } = await rawClient();
    let answered = 0;
    let gone = false;
    void closed.then(() => {
      gone = true;
    });
    // One request every 400 ms: on main each one got 'N' and a fresh startup_timeout, forever.
    for (let round = 0; round < 8 && !gone; round++) {
      socket.write(GSSENC_REQUEST);
      await new Promise((resolve) => setTimeout(resolve, 400));
      answered = received().filter((byte) => byte === 0x4e).length;
    }
    await closed;
    expect(answered).toBeLessThanOrEqual(3); // closed at the 1 s deadline, not after 8 rounds
    expect(errorIn(received())).toMatchObject({
      code: "08P01",
      message: expect.stringContaining("within 1s"),
    });
    expect(await metric("latch_handshakes_abandoned_total", 'reason="timeout"')).toBeGreaterThanOrEqual(1);
  });

  it("one address cannot hold more than max_handshakes_per_address connections in their handshake", async () => {
    const idle = [await rawClient(), await rawClient()];
    const third = await rawClient();
    await third.closed;
    expect(errorIn(third.received())).toMatchObject({
      code: "53300",
      message: expect.stringContaining("still in their handshake (limit 2)"),
    });
    for (const client of idle) client.socket.destroy();
    await Promise.all(idle.map((client) => client.closed));
    expect(await metric("latch_connections_refused_total", 'reason="too_many_handshakes"')).toBe(1);
  });

  it("a full gateway answers 53300 too many connections (not a reset), and counts it", async () => {
    const session = await gw.connect(await gw.token("ci-bot", ["agents"]));
    const idle = [await rawClient(), await rawClient()];
    const refused = new pg.Client(gw.clientConfig(await gw.token("ci-bot", ["agents"])));
    refused.on("error", () => {});
    const error = await refused.connect().then(
      () => undefined,
      (caught: unknown) => caught as { code?: string; message: string },
    );
    // node-postgres reports the ErrorResponse it got instead of TLS; psql prints the FATAL message.
    const direct = await rawClient();
    await direct.closed;
    expect(errorIn(direct.received())).toMatchObject({
      code: "53300",
      message: expect.stringContaining("too many connections to this gateway (limits.max_connections is 3)"),
    });
    expect(error).toBeDefined();
    expect(await metric("latch_connections_refused_total", 'reason="too_many_connections"')).toBe(2);
    for (const client of idle) client.socket.destroy();
    await Promise.all(idle.map((client) => client.closed));
    await session.end();
  });

  it("a client that hangs up during the handshake is counted as abandoned", async () => {
    const before = await metric("latch_handshakes_abandoned_total", 'reason="closed"');
    const probe = await rawClient();
    probe.socket.destroy();
    await probe.closed;
    for (let attempt = 0; attempt < 50; attempt++) {
      if ((await metric("latch_handshakes_abandoned_total", 'reason="closed"')) > before) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await metric("latch_handshakes_abandoned_total", 'reason="closed"')).toBe(before + 1);
  });

  it("an upstream without free connection slots is reported as such, not as unreachable", async () => {
    // Take every ordinary slot the upstream has left (whatever earlier tests still hold).
    const holders: pg.Client[] = [];
    for (let slot = 0; slot < 10; slot++) {
      const holder = new pg.Client({
        host: "127.0.0.1",
        port: cluster.port,
        user: cluster.appUser,
        password: cluster.appPassword,
        database: cluster.appDatabase,
      });
      holder.on("error", () => {});
      const full = await holder.connect().then(
        () => false,
        (caught: { code?: string }) => caught.code === "53300",
      );
      if (full) break;
      holders.push(holder);
    }
    try {
      const error = await gw.connect(await gw.token("ci-bot", ["agents"])).then(
        async (client) => {
          await client.end();
          return undefined;
        },
        (caught: unknown) => caught as { code?: string; message: string },
      );
      expect(error?.code).toBe("53300");
      expect(error?.message).toContain('the upstream of connection "app" has no connection slots left');
    } finally {
      for (const holder of holders) await holder.end();
    }
  });
});
