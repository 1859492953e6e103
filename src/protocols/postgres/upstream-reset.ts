import type { Duplex } from "node:stream";
import { decodeBackend } from "./decode-backend.js";
import { encodeQuery } from "./encode-frontend.js";
import { HandshakeReader } from "./handshake-reader.js";
import { guardParameterStatus } from "./parameter-status-guard.js";

/** Longest a backend may take to be made clean again before it is closed instead. */
export const RESET_TIMEOUT_MS = 3000;

/** What a session leaves behind on its backend, all of it dropped (the statement PgBouncer runs too). */
const RESET_QUERY = "DISCARD ALL";

export interface ResetOptions {
  readonly maxFrameBytes: number;
  readonly timeoutMs?: number;
  /**
   * Settles once every CancelRequest a past client sent for this backend reached the server. A cancel that
   * lands after the reset could otherwise interrupt the next session's statement; before or during the reset
   * it is harmless (an idle backend ignores it; a cancelled DISCARD ALL fails the reset).
   */
  readonly cancelsDelivered?: Promise<void>;
}

/**
 * Runs DISCARD ALL on a backend whose session ended at ReadyForQuery 'I' (temporary tables, prepared
 * statements, cursors, advisory locks, LISTEN, SET and SET ROLE are gone; settings return to their startup
 * values) and resolves with the ParameterStatus set the backend now reports: the startup set with what the
 * reset reported on top. Anything but CommandComplete, NoticeResponse, ParameterStatus and ReadyForQuery 'I'
 * rejects, as do a pinned parameter that changed, a close, or the timeout: the caller then closes the socket.
 */
export async function resetUpstream(
  socket: Duplex,
  startupParameters: ReadonlyMap<string, string>,
  options: ResetOptions,
): Promise<Map<string, string>> {
  const deadline = performance.now() + (options.timeoutMs ?? RESET_TIMEOUT_MS);
  const remaining = () => Math.max(1, deadline - performance.now());
  const reader = new HandshakeReader(socket, { maxFrameBytes: options.maxFrameBytes, startup: false });
  try {
    if (options.cancelsDelivered !== undefined) await withTimeout(options.cancelsDelivered, remaining());
    const parameters = new Map(startupParameters);
    socket.write(encodeQuery(RESET_QUERY));
    let completed = false;
    for (;;) {
      const frame = await reader.next(remaining());
      const message = decodeBackend(frame);
      switch (message.kind) {
        case "ParameterStatus":
          guardParameterStatus(frame, "");
          parameters.set(message.name, message.value);
          break;
        case "NoticeResponse":
          break;
        case "CommandComplete":
          if (completed || message.tag !== RESET_QUERY) throw new Error(`unexpected ${message.tag} in reset`);
          completed = true;
          break;
        case "ReadyForQuery":
          if (!completed || message.status !== "I")
            throw new Error(`reset ended in status ${message.status} without completing`);
          if (reader.release().buffered > 0) throw new Error("server sent more after ReadyForQuery");
          return parameters;
        default:
          throw new Error(`unexpected ${message.kind} in reset`);
      }
    }
  } finally {
    reader.release();
  }
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("cancel requests still in flight")), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
