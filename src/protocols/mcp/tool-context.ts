import type { LatchConfig } from "../../config/schema.js";
import type { Identity } from "../../identity/identity.js";
import type { Access } from "../../operation/operation.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { LiveSession } from "../../session/live-session.js";
import type { ApprovalDesk, PolicyPreview, PolicyReach } from "../agent-services.js";
import type { HttpRequestRunner, SshExecRunner } from "../agent-tools.js";
import type { SqlUpstream } from "./upstream.js";

/** What a tool call may ask of the MCP session it runs in. */
export interface ToolContext {
  readonly config: LatchConfig;
  readonly session: LiveSession<undefined>;
  readonly pipeline: Admitter;
  readonly preview: PolicyPreview | undefined;
  readonly reach: PolicyReach | undefined;
  readonly desk: ApprovalDesk | undefined;
  readonly http: HttpRequestRunner | undefined;
  readonly ssh: SshExecRunner | undefined;
  /** The session's upstream on a PostgreSQL connection, connected with a credential issued for this session. */
  sqlUpstream(connection: string): Promise<SqlUpstream>;
}

/** What the client sent with the call besides its arguments. */
export interface CallExtras {
  readonly signal: AbortSignal;
  /** Present when the client asked for progress (`_meta.progressToken`): a held call then waits in the call. */
  readonly progress?: (message: string) => Promise<void>;
}

/** Policy's answer ahead of any operation: may this caller ever make these accesses here? */
export function couldDo(
  context: Pick<ToolContext, "config" | "session" | "preview">,
  identity: Identity,
  connection: string,
  accesses: readonly Access[],
  readOnly: boolean,
): "allow" | "approval" | "deny" {
  const found = Object.hasOwn(context.config.connections, connection)
    ? context.config.connections[connection]
    : undefined;
  // Without a preview (unit contexts) nothing is hidden: the operation itself is still judged.
  if (found === undefined) return "deny";
  if (context.preview === undefined) return "allow";
  return context.preview({
    identity,
    connection,
    connectionLabels: found.labels,
    accesses,
    readOnly,
    clientAddress: context.session.clientAddress,
  });
}
