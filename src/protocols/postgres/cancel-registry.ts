import { randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import net from "node:net";
import { encodeCancelRequest } from "./encode-frontend.js";
import type { UpstreamTarget } from "./upstream.js";

interface CancelTarget {
  readonly secretKey: Buffer;
  readonly upstream: UpstreamTarget;
  readonly upstreamProcessId: number;
  readonly upstreamSecretKey: Buffer;
}

/**
 * Clients get gateway-made BackendKeyData; a CancelRequest is matched here and re-issued to the right upstream
 * backend with the upstream's key. The upstream key never leaves the gateway and a raw cancel is never forwarded.
 */
export class CancelRegistry {
  private readonly byProcessId = new Map<number, CancelTarget>();
  /** CancelRequests on their way to the server, per upstream backend (upstreamBackend()). */
  private readonly inFlight = new Map<string, Set<Promise<void>>>();

  register(
    upstream: UpstreamTarget,
    upstreamKey: { processId: number; secretKey: Buffer },
  ): { processId: number; secretKey: Buffer } {
    let processId = randomInt(1, 0x7fffffff);
    while (this.byProcessId.has(processId)) processId = randomInt(1, 0x7fffffff);
    const secretKey = randomBytes(4);
    this.byProcessId.set(processId, {
      secretKey,
      upstream,
      upstreamProcessId: upstreamKey.processId,
      upstreamSecretKey: upstreamKey.secretKey,
    });
    return { processId, secretKey };
  }

  unregister(processId: number): void {
    this.byProcessId.delete(processId);
  }

  /** Returns false (and does nothing) when the key does not match a live session. */
  cancel(processId: number, secretKey: Buffer): boolean {
    const target = this.byProcessId.get(processId);
    if (target === undefined || target.secretKey.length !== secretKey.length) return false;
    if (!timingSafeEqual(target.secretKey, secretKey)) return false;
    // Cancel is sent in plaintext even when the session uses TLS: PostgreSQL accepts both, and the key is
    // single-use for one backend.
    const socket = net.connect({ host: target.upstream.host, port: target.upstream.port });
    socket.on("connect", () =>
      socket.end(encodeCancelRequest(target.upstreamProcessId, target.upstreamSecretKey)),
    );
    socket.on("error", () => socket.destroy());
    socket.setTimeout(5000, () => socket.destroy());
    // The server closes the cancel connection once it has signalled the backend: until then a pooled backend
    // is not handed to another session (upstream-reset.ts).
    const backend = upstreamBackend(target.upstream, target.upstreamProcessId);
    const pending = this.inFlight.get(backend) ?? new Set<Promise<void>>();
    this.inFlight.set(backend, pending);
    const delivered = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    pending.add(delivered);
    void delivered.then(() => {
      pending.delete(delivered);
      if (pending.size === 0 && this.inFlight.get(backend) === pending) this.inFlight.delete(backend);
    });
    return true;
  }

  /** Settles when every CancelRequest sent so far for this upstream backend has reached the server. */
  delivered(upstream: UpstreamTarget, upstreamProcessId: number): Promise<void> {
    const pending = this.inFlight.get(upstreamBackend(upstream, upstreamProcessId));
    return pending === undefined ? Promise.resolve() : Promise.all(pending).then(() => undefined);
  }
}

function upstreamBackend(upstream: UpstreamTarget, processId: number): string {
  return `${upstream.host}\u0000${upstream.port}\u0000${processId}`;
}
