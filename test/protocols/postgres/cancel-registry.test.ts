import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CancelRegistry } from "../../../src/protocols/postgres/cancel-registry.js";
import type { UpstreamTarget } from "../../../src/protocols/postgres/upstream.js";

/**
 * Gateway keys map to upstream keys; `delivered` says when the CancelRequests sent for one backend reached
 * its server (the server closes the cancel connection once it has acted), which a pooled backend's reset waits
 * for. The "server" is a real TCP listener that holds each cancel connection until the test lets it go.
 */

const servers: net.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function cancelServer() {
  const held: net.Socket[] = [];
  const received: Buffer[] = [];
  let arrived = () => {};
  const server = net.createServer((socket) => {
    held.push(socket);
    socket.on("data", (chunk) => {
      received.push(chunk);
      arrived();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    received,
    nextArrival: () => new Promise<void>((resolve) => (arrived = resolve)),
    release: () => {
      for (const socket of held.splice(0)) socket.destroy();
    },
  };
}

const targetAt = (port: number): UpstreamTarget => ({
  connectionName: "app",
  host: "127.0.0.1",
  port,
  user: "u",
  database: "d",
  tls: "disable",
  caFile: undefined,
  connectTimeoutMs: 1000,
});

describe("CancelRegistry", () => {
  it("re-issues a matching cancel with the upstream key and refuses a wrong or unregistered one", async () => {
    const server = await cancelServer();
    const registry = new CancelRegistry();
    const upstreamKey = { processId: 777, secretKey: Buffer.from([1, 2, 3, 4]) };
    const key = registry.register(targetAt(server.port), upstreamKey);
    expect(key.processId).not.toBe(777);
    expect(registry.cancel(key.processId, Buffer.from([0, 0, 0, 0]))).toBe(false);
    const arrival = server.nextArrival();
    expect(registry.cancel(key.processId, key.secretKey)).toBe(true);
    await arrival;
    const sent = Buffer.concat(server.received);
    expect(sent.readInt32BE(8)).toBe(777);
    expect(sent.subarray(12)).toEqual(upstreamKey.secretKey);
    registry.unregister(key.processId);
    expect(registry.cancel(key.processId, key.secretKey)).toBe(false);
    server.release();
  });

  it("settles delivered() only once the server closed every cancel connection for that backend", async () => {
    const server = await cancelServer();
    const registry = new CancelRegistry();
    const target = targetAt(server.port);
    await expect(registry.delivered(target, 777)).resolves.toBeUndefined();
    const key = registry.register(target, { processId: 777, secretKey: Buffer.from([1, 2, 3, 4]) });
    registry.register(target, { processId: 888, secretKey: Buffer.from([5, 6, 7, 8]) });
    const arrival = server.nextArrival();
    registry.cancel(key.processId, key.secretKey);
    await arrival;
    let settled = false;
    const delivered = registry.delivered(target, 777).then(() => {
      settled = true;
    });
    // Another backend's cancels are not waited for.
    await expect(registry.delivered(target, 888)).resolves.toBeUndefined();
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    server.release();
    await delivered;
    expect(settled).toBe(true);
  });
});
