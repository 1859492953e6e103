import { readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import tls from "node:tls";
import { type ExportedEvent, ExportFailure, type ExportSink, exportRecord } from "./export-sink.js";

export interface SyslogSinkOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** RFC 5425 TLS; undefined: plain TCP. */
  readonly tls?: { readonly caFile?: string; readonly serverName?: string };
  readonly facility: number;
  readonly appName: string;
  /**
   * TCP syslog has no acknowledgement: a write only reached our kernel. An event counts as delivered once the
   * connection stayed up this long after it was written (a receiver that died meanwhile resets the connection
   * and everything not yet counted is sent again). Default 2 s.
   */
  readonly confirmMs?: number;
  readonly now?: () => number;
}

const SEVERITY_INFO = 6;
/** The IANA example enterprise number (RFC 5612): Latch has no private one. */
const SD_ID = "latch@32473";

/** RFC 5424 syslog over TCP (or TLS), framed by octet counting (RFC 6587 3.4.1, as RFC 5425 requires). */
export function createSyslogSink(options: SyslogSinkOptions): ExportSink {
  const confirmMs = options.confirmMs ?? 2000;
  const now = options.now ?? Date.now;
  const hostname =
    os
      .hostname()
      .replace(/[^\x21-\x7e]/g, "")
      .slice(0, 255) || "-";
  let socket: net.Socket | undefined;
  let lost: string | undefined;
  let delivered = 0;
  let pending: { seq: number; at: number }[] = [];

  const drop = (why: string): void => {
    lost ??= why;
    socket?.destroy();
    socket = undefined;
  };
  const connect = (): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) =>
        reject(new ExportFailure(`syslog receiver unreachable (${error.code ?? error.name})`));
      const opened =
        options.tls === undefined
          ? net.connect({ host: options.host, port: options.port }, () => resolve(opened))
          : tls.connect(
              {
                host: options.host,
                port: options.port,
                servername: options.tls.serverName ?? options.host,
                ...(options.tls.caFile === undefined ? {} : { ca: readFileSync(options.tls.caFile) }),
              },
              () => resolve(opened),
            );
      opened.once("error", onError);
      // Over TLS the TCP connect comes before the handshake, whose failure must still reject.
      opened.once(options.tls === undefined ? "connect" : "secureConnect", () =>
        opened.off("error", onError),
      );
      opened.setKeepAlive(true, 10_000);
      // A receiver that goes away shows as end/reset on the read side: reading is how we learn of it.
      opened.on("data", () => undefined);
      opened.on("error", (error: NodeJS.ErrnoException) => drop(error.code ?? "error"));
      opened.on("close", () => {
        if (socket === opened) drop("closed");
      });
    });

  return {
    name: options.name,
    async send(events) {
      if (lost !== undefined) {
        const unconfirmed = pending.length > 0;
        pending = [];
        const why = lost;
        lost = undefined;
        if (unconfirmed)
          throw new ExportFailure(`syslog connection lost (${why}) before delivery was confirmed`);
      }
      if (events.length > 0) {
        socket ??= await connect();
        const frames = events.map((event) => frame(syslogMessage(event, options, hostname))).join("");
        const writing = socket;
        await new Promise<void>((resolve, reject) =>
          writing.write(frames, (error) =>
            error
              ? reject(
                  new ExportFailure(
                    `syslog write failed (${(error as NodeJS.ErrnoException).code ?? error.name})`,
                  ),
                )
              : resolve(),
          ),
        );
        pending.push({ seq: events[events.length - 1]!.seq, at: now() });
      }
      while (lost === undefined && pending.length > 0 && now() - pending[0]!.at >= confirmMs)
        delivered = pending.shift()!.seq;
      return delivered;
    },
    async close() {
      socket?.end();
      socket = undefined;
    },
  };
}

/** `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] BOM MSG`, MSG the exported record. */
export function syslogMessage(
  event: ExportedEvent,
  options: Pick<SyslogSinkOptions, "facility" | "appName">,
  hostname: string,
): string {
  const pri = options.facility * 8 + SEVERITY_INFO;
  const params = [`seq="${event.seq}"`, `hash="${event.hash}"`];
  if (event.sessionId !== null) params.push(`session="${sdEscape(event.sessionId)}"`);
  if (event.session !== undefined) params.push(`subject="${sdEscape(event.session.subject)}"`);
  return `<${pri}>1 ${event.ts} ${hostname} ${options.appName} ${process.pid} ${event.kind.slice(0, 32)} [${SD_ID} ${params.join(" ")}] \uFEFF${exportRecord(event)}`;
}

function sdEscape(value: string): string {
  return value.replace(/["\\\]]/g, (char) => `\\${char}`);
}

function frame(message: string): string {
  return `${Buffer.byteLength(message, "utf8")} ${message}`;
}
