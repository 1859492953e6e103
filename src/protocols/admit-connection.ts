import type net from "node:net";
import type { Logger } from "pino";
import type { LatchError } from "../errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { ConnectionLimits, ConnectionTicket } from "./connection-limits.js";

/** How long a refused client has to read the answer before its socket is destroyed. */
const REFUSAL_LINGER_MS = 1000;

/**
 * Admits a freshly accepted socket under the listener's ConnectionLimits, or refuses it in the protocol's own
 * words (`answer`: PostgreSQL an ErrorResponse, SSH a disconnect), counted in latch_connections_refused_total
 * and logged as a warning without a stack trace. The ticket is closed with the socket.
 */
export function admitConnection(
  socket: net.Socket,
  options: {
    readonly limits: ConnectionLimits;
    readonly protocol: string;
    readonly metrics: Metrics;
    readonly log: Logger;
    readonly answer: (refusal: LatchError) => Buffer;
  },
): ConnectionTicket | undefined {
  socket.on("error", () => socket.destroy());
  const admitted = options.limits.admit(socket.remoteAddress ?? "?");
  if ("refusal" in admitted) {
    const { refusal } = admitted;
    options.metrics.connectionsRefused.inc({ protocol: options.protocol, reason: refusal.code });
    options.log.warn(
      { client: socket.remoteAddress, protocol: options.protocol, reason: refusal.message },
      "connection refused",
    );
    // What the client sends meanwhile is read and dropped, so the close is a FIN, not a reset that could
    // discard the answer before the client read it.
    socket.resume();
    socket.end(options.answer(refusal));
    setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
    return undefined;
  }
  socket.once("close", admitted.ticket.closed);
  return admitted.ticket;
}
