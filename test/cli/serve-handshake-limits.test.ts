import type { ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { Client } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintDevToken } from "../../src/identity/dev-issuer.js";
import { decodeBackend } from "../../src/protocols/postgres/decode-backend.js";
import { freePort } from "../support/free-port.js";
import { startLatchServe } from "../support/latch-serve.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { SSHD_USER, startSshd, type TestSshd } from "../support/sshd.js";

/**
 * Issue 10 against the compiled `latch serve`, real PostgreSQL and a real sshd behind it: before anyone has
 * authenticated, one deadline (startup_timeout, 1s here) bounds the whole handshake whatever the client sends,
 * and a full listener says so in the client's own protocol (PostgreSQL 53300, an SSH disconnect with reason 1),
 * counted in /metrics.
 */

const run = promisify(execFile);
const GSSENC_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);
/** Generous bound for "closed at the 1s deadline": far below what a client that is never closed would take. */
const CLOSED_WITHIN_MS = 4000;

let cluster: PgCluster;
let sshd: TestSshd;
let dir: string;
let gateway: ChildProcess | undefined;
const ports = { postgres: 0, ssh: 0, admin: 0 };

beforeAll(async () => {
  [cluster, sshd] = await Promise.all([startPgCluster(), startSshd()]);
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-serve-limits-"));
  mkdirSync(path.join(dir, "policies"));
  writeFileSync(
    path.join(dir, "policies", "p.cedar"),
    'permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");\n',
  );
  for (const name of ["postgres", "ssh", "admin"] as const) ports[name] = await freePort();
  const config = path.join(dir, "latch.yaml");
  writeFileSync(
    config,
    `listen: { postgres: "127.0.0.1:${ports.postgres}", ssh: "127.0.0.1:${ports.ssh}", admin: "127.0.0.1:${ports.admin}" }
data_dir: ./data
identity: { dev_issuer: true }
policies: ./policies
tls: { allow_plaintext: true }
limits: { startup_timeout: 1s, max_connections: 2, max_handshakes_per_address: 8 }
connections:
  app:
    type: postgres
    upstream: postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}
    password: { env: APP_PASSWORD }
  web-1:
    type: ssh
    upstream: ssh://${SSHD_USER}@127.0.0.1:${sshd.port}
    private_key: { file: ${JSON.stringify(sshd.userKeyFile)} }
    host_key: ${JSON.stringify(sshd.hostKeyLine)}
`,
  );
  gateway = await startLatchServe(config, { APP_PASSWORD: cluster.appPassword });
}, 60_000);

afterAll(async () => {
  gateway?.kill("SIGKILL");
  await Promise.all([cluster?.stop(), sshd?.stop()]);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

interface RawClient {
  readonly socket: net.Socket;
  received(): Buffer;
  /** Milliseconds from connect to the gateway closing the socket, or undefined if it was still open at `ms`. */
  closedWithin(ms: number): Promise<number | undefined>;
  readonly isClosed: () => boolean;
}

/** A raw client socket and everything the gateway sends it. */
function rawClient(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, "127.0.0.1");
    let closedAt: number | undefined;
    const closed = new Promise<void>((done) =>
      socket.once("close", () => {
        closedAt = performance.now();
        done();
      }),
    );
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.once("error", reject);
    socket.once("connect", () => {
      const connectedAt = performance.now();
      resolve({
        socket,
        received: () => Buffer.concat(chunks),
        isClosed: () => closedAt !== undefined,
        async closedWithin(ms) {
          await Promise.race([closed, new Promise((wait) => setTimeout(wait, ms))]);
          return closedAt === undefined ? undefined : closedAt - connectedAt;
        },
      });
    });
  });
}

/** The ErrorResponse in what the gateway sent (after any single-byte answers such as 'N'). */
function pgErrorIn(bytes: Buffer): { code: string; message: string } | undefined {
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

/** The identification line and the unencrypted SSH_MSG_DISCONNECT after it, read naively. */
function sshDisconnectIn(bytes: Buffer): { ident: string; reason: number; description: string } | undefined {
  const eol = bytes.indexOf("\r\n");
  if (eol === -1) return undefined;
  const packet = bytes.subarray(eol + 2);
  if (packet.length < 14 || packet[5] !== 1) return undefined; // uint32 length, byte padding, byte type
  const length = packet.readUInt32BE(10);
  return {
    ident: bytes.subarray(0, eol).toString("latin1"),
    reason: packet.readUInt32BE(6),
    description: packet.subarray(14, 14 + length).toString("utf8"),
  };
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`${name}{`) && labels.split(",").every((label) => l.includes(label)));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("latch serve, PostgreSQL before authentication", () => {
  it("a GSSENCRequest trickle is closed at the whole-handshake deadline", async () => {
    const client = await rawClient(ports.postgres);
    for (let round = 0; round < 10 && !client.isClosed(); round++) {
      client.socket.write(GSSENC_REQUEST);
      await sleep(300);
    }
    const closedAfter = await client.closedWithin(CLOSED_WITHIN_MS);
    expect(closedAfter).toBeDefined();
    expect(closedAfter).toBeLessThan(2500); // ten rounds would have taken 3 s
    expect(pgErrorIn(client.received())).toMatchObject({
      code: "08P01",
      message: expect.stringContaining("within 1s"),
    });
  });

  it("a client that sends nothing, or half a startup message, is closed at the deadline", async () => {
    const silent = await rawClient(ports.postgres);
    const partial = await rawClient(ports.postgres);
    partial.socket.write(Buffer.from([0, 0, 0, 40, 0, 3, 0, 0, 0x75, 0x73])); // declares 40 bytes, sends 10
    for (const client of [silent, partial]) {
      const closedAfter = await client.closedWithin(CLOSED_WITHIN_MS);
      expect(closedAfter).toBeGreaterThan(900);
      expect(closedAfter).toBeLessThan(CLOSED_WITHIN_MS);
      expect(pgErrorIn(client.received())).toMatchObject({
        code: "08P01",
        message: expect.stringContaining("within 1s"),
      });
    }
    expect(
      await metric("latch_handshakes_abandoned_total", 'protocol="postgres",reason="timeout"'),
    ).toBeGreaterThanOrEqual(3);
  });

  it("a full gateway answers 53300 too many connections and counts it; the session inside goes on", async () => {
    const token = await mintDevToken(path.join(dir, "data"), {
      subject: "ci-bot",
      groups: ["agents"],
      ttlSeconds: 600,
    });
    const session = new pg.Client({
      host: "127.0.0.1",
      port: ports.postgres,
      user: "ci-bot",
      database: "app",
      password: token,
      ssl: false,
    });
    session.on("error", () => {});
    await session.connect();
    const idle = await rawClient(ports.postgres);
    const refused = await rawClient(ports.postgres);
    expect(await refused.closedWithin(CLOSED_WITHIN_MS)).toBeLessThan(900);
    expect(pgErrorIn(refused.received())).toMatchObject({
      code: "53300",
      message: expect.stringContaining("too many connections to this gateway (limits.max_connections is 2)"),
    });
    expect(
      await metric("latch_connections_refused_total", 'protocol="postgres",reason="too_many_connections"'),
    ).toBe(1);
    expect((await session.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    idle.socket.destroy();
    await session.end();
  });
});

describe("latch serve, SSH before authentication", () => {
  it("a client that sends nothing, or trickles its identification line, is disconnected at the deadline", async () => {
    const silent = await rawClient(ports.ssh);
    const trickle = await rawClient(ports.ssh);
    const line = Buffer.from("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n");
    void (async () => {
      for (let at = 0; at < line.length && !trickle.isClosed(); at++) {
        trickle.socket.write(line.subarray(at, at + 1));
        await sleep(150);
      }
    })();
    for (const client of [silent, trickle]) {
      // The old front started its timer only once ssh2 had the whole identification line: never, here.
      const closedAfter = await client.closedWithin(CLOSED_WITHIN_MS);
      expect(closedAfter).toBeGreaterThan(900);
      expect(closedAfter).toBeLessThan(CLOSED_WITHIN_MS);
      expect(sshDisconnectIn(client.received())).toEqual({
        ident: "SSH-2.0-Latch",
        reason: 2, // SSH_DISCONNECT_PROTOCOL_ERROR
        description: "protocol violation: the handshake did not complete within 1s",
      });
    }
    expect(await metric("latch_handshakes_abandoned_total", 'protocol="ssh",reason="timeout"')).toBe(2);
  });

  it("a probe that hangs up during the handshake is counted as abandoned", async () => {
    const probe = await rawClient(ports.ssh);
    probe.socket.destroy();
    let count = 0;
    for (let attempt = 0; attempt < 50 && count === 0; attempt++) {
      count = await metric("latch_handshakes_abandoned_total", 'protocol="ssh",reason="closed"');
      if (count === 0) await sleep(20);
    }
    expect(count).toBe(1);
  });

  it("a full gateway disconnects with reason 1 (too many connections), counted; ssh prints the reason", async () => {
    const idle = [await rawClient(ports.ssh), await rawClient(ports.ssh)];
    const error = await new Promise<Error & { code?: unknown }>((resolve) => {
      const client = new Client();
      client.once("error", resolve);
      client.once("ready", () => {
        client.end();
        resolve(new Error("logged in"));
      });
      client.connect({
        host: "127.0.0.1",
        port: ports.ssh,
        username: "web-1",
        password: "x",
        readyTimeout: 5000,
      });
    });
    expect(error.code).toBe(1); // SSH_DISCONNECT_TOO_MANY_CONNECTIONS
    expect(error.message).toContain("too many connections to this gateway (limits.max_connections is 2)");
    const openssh = await run("ssh", [
      ...["-p", String(ports.ssh), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"],
      ...["-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "web-1@127.0.0.1", "true"],
    ]).then(
      () => ({ stderr: "logged in" }),
      (failed: { stderr: string }) => failed,
    );
    expect(openssh.stderr).toContain("too many connections to this gateway");
    expect(
      await metric("latch_connections_refused_total", 'protocol="ssh",reason="too_many_connections"'),
    ).toBe(2);
    for (const client of idle) client.socket.destroy();
  });
});
