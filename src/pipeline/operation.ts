import type { Identity } from "../identity/identity.js";
import type { ClassifiedStatement } from "../sql/classification.js";

/** One unit of work, the same shape for every protocol: a Query, or Parse/Bind/Execute up to Sync. */
export interface Operation {
  readonly id: string;
  readonly sessionId: string;
  readonly protocol: "postgres" | "ssh" | "http";
  readonly connection: string;
  readonly identity: Identity;
  /** "simple" Query message or "extended" batch; other protocols add their own. */
  readonly mode: string;
  readonly statements: readonly ClassifiedStatement[];
  /** Bound parameters per executed statement, text-rendered and truncated for the record. */
  readonly parameters?: readonly (readonly (string | null)[])[];
  /**
   * Hex SHA-256 of each full bound parameter (format code and bytes), same shape as `parameters`. The previews
   * above are cut short; an approval binds these, so it cannot release other parameters with the same prefix.
   */
  readonly parameterDigests?: readonly (readonly (string | null)[])[];
  readonly receivedAt: number;
}

export type Decision = "allow" | "deny" | "approval";

export interface Verdict {
  readonly decision: Decision;
  /** Ids of the policies that decided (Cedar policy ids, e.g. "policies/agents.cedar#2"). */
  readonly rules: readonly string[];
  /** Human sentence for the client and the record. */
  readonly reason: string;
  /** Present when decision is "approval". */
  readonly approval?: { readonly group: string; readonly quorum: number };
}
