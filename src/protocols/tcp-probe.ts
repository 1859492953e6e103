import net from "node:net";

export interface TcpProbe {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** Bytes sent once connected (PostgreSQL's SSLRequest); nothing for protocols where the server speaks first. */
  readonly send?: Buffer;
  /** Looks at everything received so far: "ok", "more" (keep reading) or "unexpected". */
  readonly judge: (received: Buffer) => "ok" | "more" | "unexpected";
}

/** A failed readiness check: the Error /readyz reports, its `code` the reason. */
export const probeFailure = (code: string) =>
  Object.assign(new Error(`upstream check failed: ${code}`), { code });

/**
 * The readiness check protocol modules share: connect, optionally send a few bytes, read the server's first
 * reply and hang up. Rejects with an Error whose `code` is the socket's (ECONNREFUSED, EHOSTUNREACH),
 * `timeout`, `closed` (hung up before answering) or `unexpected_reply`.
 */
export function probeTcp(probe: TcpProbe): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: probe.host, port: probe.port });
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error === undefined) resolve();
      else reject(error);
    };
    const timer = setTimeout(() => finish(probeFailure("timeout")), probe.timeoutMs);
    socket.once("connect", () => {
      if (probe.send !== undefined) socket.write(probe.send);
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const verdict = received.length > 4096 ? "unexpected" : probe.judge(received);
      if (verdict === "ok") finish();
      else if (verdict === "unexpected") finish(probeFailure("unexpected_reply"));
    });
    socket.once("error", (error: NodeJS.ErrnoException) =>
      finish(probeFailure(error.code ?? "socket_error")),
    );
    socket.once("close", () => finish(probeFailure("closed")));
  });
}

/** host and port of an upstream URL (postgres://user@host:5432/db, ssh://user@[::1]:22). */
export function upstreamEndpoint(
  url: string | undefined,
  defaultPort: number,
): { host: string; port: number } {
  // A connection without a network upstream (an MCP server started with `command`) has nothing to probe here.
  if (url === undefined) throw new Error("the connection has no upstream URL");
  const parsed = new URL(url);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ""),
    port: parsed.port === "" ? defaultPort : Number(parsed.port),
  };
}
