import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";

/**
 * Receivers for the audit export, on real sockets: an OTLP/HTTP JSON logs endpoint (a collector stand-in) and
 * an RFC 5424 syslog listener with octet-counting framing. Each records the seqs it received, in arrival
 * order, and can be killed (connections cut, unread bytes lost) and started again on the same port.
 */
export interface AuditReceiver {
  readonly port: number;
  /** Seqs in arrival order, duplicates included. */
  readonly seqs: number[];
  /** Raw messages (OTLP request bodies, syslog messages), for format checks. */
  readonly messages: string[];
  kill(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startOtlpLogsReceiver(port = 0, path = "/v1/logs"): Promise<AuditReceiver> {
  const seqs: number[] = [];
  const messages: string[] = [];
  let server: HttpServer;
  const listen = (at: number) =>
    new Promise<number>((resolve, reject) => {
      server = createHttpServer((request, response) => {
        let body = "";
        request.setEncoding("utf8");
        request.on("data", (chunk: string) => {
          body += chunk;
        });
        request.on("end", () => {
          if (request.method !== "POST" || request.url !== path) {
            response.writeHead(404).end();
            return;
          }
          messages.push(body);
          const parsed = JSON.parse(body) as {
            resourceLogs: {
              scopeLogs: { logRecords: { attributes: { key: string; value: { intValue?: string } }[] }[] }[];
            }[];
          };
          for (const resource of parsed.resourceLogs)
            for (const scope of resource.scopeLogs)
              for (const record of scope.logRecords) {
                const seq = record.attributes.find((a) => a.key === "latch.audit.seq")?.value.intValue;
                seqs.push(Number(seq));
              }
          response.writeHead(200, { "content-type": "application/json" }).end("{}");
        });
      });
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: at }, () => {
        resolve((server.address() as { port: number }).port);
      });
    });
  const bound = await listen(port);
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    port: bound,
    seqs,
    messages,
    kill: stop,
    restart: async () => void (await listen(bound)),
    close: stop,
  };
}

export async function startSyslogReceiver(port = 0): Promise<AuditReceiver> {
  const seqs: number[] = [];
  const messages: string[] = [];
  let server: Server;
  const sockets = new Set<Socket>();
  const listen = (at: number) =>
    new Promise<number>((resolve, reject) => {
      server = createTcpServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => undefined);
        let buffer = Buffer.alloc(0);
        socket.on("data", (chunk: Buffer) => {
          buffer = Buffer.concat([buffer, chunk]);
          for (;;) {
            const space = buffer.indexOf(0x20);
            if (space < 0) return;
            const length = Number(buffer.subarray(0, space).toString("ascii"));
            if (buffer.length < space + 1 + length) return;
            const message = buffer.subarray(space + 1, space + 1 + length).toString("utf8");
            buffer = buffer.subarray(space + 1 + length);
            messages.push(message);
            const seq = /\[latch@32473 seq="(\d+)"/.exec(message)?.[1];
            seqs.push(Number(seq));
          }
        });
      });
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: at }, () => {
        resolve((server.address() as { port: number }).port);
      });
    });
  const bound = await listen(port);
  const stop = () =>
    new Promise<void>((resolve) => {
      // Reset, not a clean close: whatever the kernel holds unread is lost, as when a receiver dies.
      for (const socket of sockets) socket.resetAndDestroy();
      server.close(() => resolve());
    });
  return {
    port: bound,
    seqs,
    messages,
    kill: stop,
    restart: async () => void (await listen(bound)),
    close: stop,
  };
}

/**
 * Whether `seqs` (arrival order) delivered 1..last in order at least once: each seq arrives at most one past
 * the highest before it, so a rewind resends (duplicates) but nothing is skipped.
 */
export function deliveredInOrder(seqs: readonly number[], last: number): boolean {
  let high = 0;
  for (const seq of seqs) {
    if (seq > high + 1) return false;
    high = Math.max(high, seq);
  }
  return high >= last;
}
