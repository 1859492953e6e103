import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { ConnectionConfig } from "../../src/config/schema.js";
import { httpModule } from "../../src/protocols/http/module.js";
import { probeMcpUpstream } from "../../src/protocols/mcp/proxy/upstream-probe.js";
import { postgresModule } from "../../src/protocols/postgres/module.js";
import { sshModule } from "../../src/protocols/ssh/module.js";
import { freePort } from "../support/free-port.js";

// Issue 10: the readiness probes behind /readyz, against servers that answer (or not) like the real ones.
const servers: net.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});
async function serve(onConnection: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer(onConnection);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}
const pg = (port: number) =>
  ({ type: "postgres", upstream: `postgres://app@127.0.0.1:${port}/app` }) as ConnectionConfig;
const ssh = (port: number) =>
  ({ type: "ssh", upstream: `ssh://deploy@127.0.0.1:${port}` }) as ConnectionConfig;

const http = (port: number) => ({ type: "http", upstream: `http://127.0.0.1:${port}` }) as ConnectionConfig;
const mcp = (port: number) => ({ type: "mcp", upstream: `http://127.0.0.1:${port}/mcp` }) as ConnectionConfig;

describe("upstream probes", () => {
  it("HTTP and MCP over http: ready when OPTIONS * gets an HTTP/1.x status line; not on another protocol", async () => {
    const requests: string[] = [];
    const port = await serve((socket) =>
      socket.once("data", (chunk) => {
        requests.push(chunk.toString("latin1"));
        socket.write("HTTP/1.1 405 Method Not Allowed\r\n\r\n");
      }),
    );
    await expect(httpModule.probe!(http(port), 1000)).resolves.toBeUndefined();
    await expect(probeMcpUpstream(mcp(port), 1000)).resolves.toBeUndefined();
    expect(requests).toHaveLength(2);
    for (const request of requests)
      expect(request).toMatch(/^OPTIONS \* HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
    const notHttp = await serve((socket) => socket.write("SSH-2.0-OpenSSH_9.2\r\n"));
    await expect(httpModule.probe!(http(notHttp), 1000)).rejects.toMatchObject({ code: "unexpected_reply" });
    await expect(probeMcpUpstream(mcp(notHttp), 1000)).rejects.toMatchObject({ code: "unexpected_reply" });
  });

  it("PostgreSQL: ready when an SSLRequest is answered with N or S", async () => {
    const port = await serve((socket) => socket.once("data", () => socket.write("N")));
    await expect(postgresModule.probe!(pg(port), 1000)).resolves.toBeUndefined();
    const garbage = await serve((socket) => socket.once("data", () => socket.write("HTTP/1.1 400\r\n")));
    await expect(postgresModule.probe!(pg(garbage), 1000)).rejects.toMatchObject({
      code: "unexpected_reply",
    });
  });

  it("SSH: ready on an SSH-2.0 line, even after other lines first; not on SSH-1.5", async () => {
    const port = await serve((socket) => socket.write("hello\r\nSSH-2.0-OpenSSH_9.2\r\n"));
    await expect(sshModule.probe!(ssh(port), 1000)).resolves.toBeUndefined();
    const old = await serve((socket) => socket.write("SSH-1.5-old\r\n"));
    await expect(sshModule.probe!(ssh(old), 1000)).rejects.toMatchObject({ code: "unexpected_reply" });
  });

  it("reports refused, silent and hung-up servers by code", async () => {
    await expect(postgresModule.probe!(pg(await freePort()), 1000)).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
    const silent = await serve(() => {});
    await expect(sshModule.probe!(ssh(silent), 100)).rejects.toMatchObject({ code: "timeout" });
    const hangsUp = await serve((socket) => socket.end());
    await expect(sshModule.probe!(ssh(hangsUp), 1000)).rejects.toMatchObject({ code: "closed" });
  });
});
