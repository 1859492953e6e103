import type net from "node:net";
import { LatchError } from "../errors.js";

/** Splits "host:port" ("[::1]:6432" too). */
export function parseHostPort(hostPort: string): { host: string; port: number } {
  const split = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, split).replace(/^\[|\]$/g, ""), port: Number(hostPort.slice(split + 1)) };
}

/** Listens on `listen.<name>`; a port that cannot be had is a config error that says which key to change. */
export function listenOn(
  server: Pick<net.Server, "once" | "listen" | "address">,
  hostPort: string,
  name: string,
): Promise<{ host: string; port: number }> {
  const { host, port } = parseHostPort(hostPort);
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new LatchError("config_invalid", {
          detail: `cannot listen for ${name} on ${hostPort}: ${error.code ?? error.message}${error.code === "EADDRINUSE" ? ` (another process holds the port; change listen.${name})` : ""}`,
        }),
      ),
    );
    server.listen(port, host, () => {
      const address = server.address() as net.AddressInfo;
      resolve({ host: address.address, port: address.port });
    });
  });
}
