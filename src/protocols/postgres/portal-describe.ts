import { encodeFrontend } from "./encode-frontend.js";
import type { FrontendMessage } from "./messages.js";

export interface DescribedBatch {
  /** The frames to send, with a Describe of the portal inserted before each Execute that lacked one. */
  readonly frames: readonly Buffer[];
  /**
   * Positions, among the batch's RowDescription/NoData answers (counted from 0), of the answers to the inserted
   * Describes: the masker reads them, the client never sees them.
   */
  readonly hiddenAnswers: ReadonlySet<number>;
}

/**
 * Masking needs each result's real column formats and provenance before its DataRows. Clients that Describe a
 * statement once and then only Bind/Execute (pgbench -M prepared, pgx, JDBC) never ask for the portal's
 * RowDescription, and a statement Describe reports text formats even when Bind asks for binary. So, on masked
 * connections, the relay asks the server itself: Describe(portal) right before the Execute. Every Describe
 * (statement or portal) produces exactly one RowDescription or NoData, in order, which is how the inserted
 * answers are recognised and held back.
 */
export function describePortalsBeforeExecute(
  frames: readonly Buffer[],
  messages: readonly FrontendMessage[],
): DescribedBatch {
  const out: Buffer[] = [];
  const hidden = new Set<number>();
  const described = new Set<string>();
  let describes = 0;
  messages.forEach((message, index) => {
    if (message.kind === "Bind") described.delete(message.portal);
    if (message.kind === "Describe") {
      describes += 1;
      if (message.target === "P") described.add(message.name);
    }
    if (message.kind === "Execute" && !described.has(message.portal)) {
      out.push(encodeFrontend({ kind: "Describe", target: "P", name: message.portal }));
      hidden.add(describes);
      describes += 1;
      described.add(message.portal);
    }
    out.push(frames[index]!);
  });
  return { frames: out, hiddenAnswers: hidden };
}
