import type { Client, ServerChannel } from "ssh2";
import type { OperationResult } from "../../pipeline/pipeline-types.js";
import type { SshSessionContext } from "./session-context.js";

/** A `direct-tcpip` channel (ssh -L): admitted as ssh:port_forward, then piped to the target's forward. */
export async function forwardDirectTcpip(
  context: SshSessionContext,
  accept: () => ServerChannel | undefined,
  reject: () => void,
  destination: string,
  info: { srcIP: string; srcPort: number; destIP: string; destPort: number },
): Promise<void> {
  const { pipeline } = context.options;
  const operation = context.operation("ssh:port_forward", destination, "direct-tcpip");
  const started = performance.now();
  const admission = await context.admit(operation);
  if (!admission.allowed || context.isClosed()) return reject();
  let target: Client;
  try {
    target = await context.options.upstream();
  } catch {
    return reject();
  }
  target.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (error, up) => {
    const done = (result: Partial<OperationResult>) =>
      pipeline.complete(operation, {
        durationMs: performance.now() - started,
        rows: 0,
        commandTags: ["forward"],
        ...result,
      });
    if (error !== undefined && error !== null) {
      reject();
      return done({
        error: {
          code: "upstream_unavailable",
          message: `the target refused the forward: ${error.message}`,
        },
      });
    }
    const front = accept();
    if (front === undefined) return up.close();
    context.trackUpstream(up);
    front.pipe(up).pipe(front);
    front.on("close", () => up.close());
    up.on("close", () => {
      front.close();
      done({});
    });
  });
}
