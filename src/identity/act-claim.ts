import type { LatchError } from "../errors.js";
import { tokenInvalid } from "./token-rejection.js";

/** One party of a delegation chain (RFC 8693 4.1 `act`): who acts, and for whom the next one acts. */
export interface Actor {
  readonly subject: string;
  /** The actor's own issuer when the claim names one (`act.iss`). */
  readonly issuer?: string;
}

/** Deeper chains than this are refused: no real orchestration nests so far, and the record stays bounded. */
export const MAX_ACTOR_DEPTH = 8;
const MAX_ACTOR_SUBJECT = 256;

/**
 * The chain of an RFC 8693 `act` claim, the current actor first, then the one it acts for, and so on (the
 * nested `act` of an `act`): `{ sub: "orchestrator", act: { sub: "subagent" } }` means the token's `sub` is
 * represented by "orchestrator", which was itself delegated to by "subagent"'s predecessor chain.
 * Undefined when the claim is absent. Anything malformed is refused (fail closed): a non-object, a missing or
 * non-string `sub`, control characters, a chain deeper than MAX_ACTOR_DEPTH. Claims other than `sub`, `iss`
 * and `act` inside an actor are ignored, as RFC 8693 says they carry no meaning for access decisions.
 */
export function parseActClaim(value: unknown): Actor[] | undefined {
  if (value === undefined) return undefined;
  const chain: Actor[] = [];
  let current: unknown = value;
  while (current !== undefined) {
    if (chain.length === MAX_ACTOR_DEPTH)
      throw invalid(`act claim nests deeper than ${MAX_ACTOR_DEPTH} actors`);
    if (typeof current !== "object" || current === null || Array.isArray(current))
      throw invalid("act claim is not a JSON object");
    const actor = current as Record<string, unknown>;
    const subject = actor.sub;
    if (typeof subject !== "string" || subject.trim() === "") throw invalid("act claim has no string sub");
    if (subject.length > MAX_ACTOR_SUBJECT) throw invalid("act.sub is too long");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: actors land in policy and audit records
    if (/[\u0000-\u001f\u007f]/.test(subject)) throw invalid("act.sub contains control characters");
    const issuer = actor.iss;
    if (issuer !== undefined && typeof issuer !== "string") throw invalid("act.iss is not a string");
    chain.push({ subject, ...(issuer === undefined ? {} : { issuer }) });
    current = actor.act;
  }
  return chain;
}

function invalid(reason: string): LatchError {
  return tokenInvalid(reason);
}
