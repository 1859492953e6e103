import { LatchError } from "../errors.js";
import type { PrincipalBlockStore } from "../store/principal-block-store.js";
import type { Clock } from "./clock.js";
import type { SessionRegistry } from "./session-registry.js";

/**
 * On a shared store a block made through another gateway reaches this one as a cluster event, within
 * milliseconds. If that event is lost (this gateway's listening connection was down when it was announced and
 * the catch-up failed too), the block would still hold at login but not for sessions already open here. This
 * sweep closes that gap: every `intervalMs` it reads the block list and ends this gateway's sessions of
 * blocked principals. Returns the function that stops it.
 */
export function startBlockSweep(deps: {
  readonly blocks: PrincipalBlockStore;
  readonly registry: SessionRegistry;
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly onError: (error: unknown) => void;
}): () => void {
  let cancel: (() => void) | undefined;
  let stopped = false;
  const sweep = async () => {
    try {
      if (deps.registry.size > 0) {
        const blocked = new Set((await deps.blocks.list()).map((block) => block.principal));
        if (blocked.size > 0) {
          deps.registry.terminateWhere(
            (session) => blocked.has(session.subject),
            new LatchError("principal_blocked"),
            "principal blocked by an administrator (found by this gateway's block sweep)",
          );
        }
      }
    } catch (error) {
      deps.onError(error);
    }
    if (!stopped) cancel = deps.clock.after(deps.intervalMs, () => void sweep());
  };
  cancel = deps.clock.after(deps.intervalMs, () => void sweep());
  return () => {
    stopped = true;
    cancel?.();
  };
}
