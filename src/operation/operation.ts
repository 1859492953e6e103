import type { Identity } from "../identity/identity.js";

/**
 * The protocol-neutral unit of work. A protocol session turns what its client sent into an Operation (a SQL
 * batch, an SSH exec, an HTTP request, an MCP tool call); the pipeline and policy see only these shapes,
 * never bytes, parse trees or dialects.
 */

/** One thing an operation does to one resource; every access must be allowed for the operation to run. */
export interface Access {
  /** Cedar action id, e.g. "sql:select", "ssh:exec", "http:POST". */
  readonly action: string;
  readonly resource: ResourceRef;
}

export type ResourceRef =
  | { readonly type: "Connection" }
  /** Schema-qualified, lower-cased as PostgreSQL folds it: "public.users". Unqualified names resolve to public. */
  | { readonly type: "Table"; readonly name: string }
  /** Schema-qualified function name: "pg_catalog.pg_terminate_backend", "public.my_udf". */
  | { readonly type: "Function"; readonly name: string }
  /** A tool of an MCP proxy connection, by the upstream's own name: "create_issue". */
  | { readonly type: "Tool"; readonly name: string };

/** What policy may read about one step besides its accesses (Cedar `context.statement` and `context.command`). */
export interface StepFacts {
  /** True only when nothing in the step can change data, schema, roles or security state. */
  readonly readOnly: boolean;
  /** Every UPDATE/DELETE in the step has a WHERE clause; true where the notion does not apply. */
  readonly hasWhere: boolean;
  /** Distinct tables the step touches (0 outside SQL). */
  readonly tableCount: number;
  /** The command line, subsystem, forward target or env pair of an SSH request; "" elsewhere. */
  readonly command: string;
  /** What policy may read about an HTTP request (Cedar `context.path`, `query`, `headers`, `body`). */
  readonly http?: HttpStepFacts;
}

/** An HTTP request as policy sees it: normalised once by the protocol, before policy. */
export interface HttpStepFacts {
  /** Normalised path after the connection prefix, e.g. "/v1/invoices". */
  readonly path: string;
  /** Query parameters (names unique: duplicates are refused before this is built). */
  readonly query: Readonly<Record<string, string>>;
  /** The connection's policy_headers that the request carries, by lower-case name. */
  readonly headers: Readonly<Record<string, string>>;
  /** none: no body; json: parsed and inspected; other: not inspected. */
  readonly bodyKind: "none" | "json" | "other";
  /** Top-level keys of a JSON object body. */
  readonly bodyKeys: readonly string[];
  /** Values of the connection's body_pointers found in the body, by pointer (strings as is, others as JSON). */
  readonly bodyValues: Readonly<Record<string, string>>;
}

/** One step of an operation: a statement of a multi-statement batch, or the whole request of other protocols. */
export interface OperationStep {
  /** What the client sent for this step, as the record and approvers read it. */
  readonly text: string;
  /** The step's primary action (also its first access's action). */
  readonly action: string;
  readonly accesses: readonly Access[];
  readonly facts: StepFacts;
  /** The protocol's own fields for the audit record (SQL: tablesRead, tablesWritten). JSON-serialisable. */
  readonly recorded?: Readonly<Record<string, unknown>>;
}

export interface Operation {
  readonly id: string;
  readonly sessionId: string;
  /** The protocol module's name: "postgres", "ssh", "http", ... */
  readonly protocol: string;
  readonly connection: string;
  readonly identity: Identity;
  /** How the protocol carried it: "simple" or "extended" (PostgreSQL), "exec", "shell" (SSH), ... */
  readonly mode: string;
  /** Authorized as a whole: every step of every operation runs, or none does. */
  readonly steps: readonly OperationStep[];
  /** Bound parameters per step, text-rendered and truncated for the record. */
  readonly parameters?: readonly (readonly (string | null)[])[];
  /**
   * Hex SHA-256 of each full bound parameter (format code and bytes), same shape as `parameters`. The previews
   * above are cut short; an approval binds these, so it cannot release other parameters with the same prefix.
   */
  readonly parameterDigests?: readonly (readonly (string | null)[])[];
  /** Epoch ms. */
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

/** Distinct Table resources among accesses: the `table_count` fact. */
export function tableCountOf(accesses: readonly Access[]): number {
  const names = new Set<string>();
  for (const access of accesses) if (access.resource.type === "Table") names.add(access.resource.name);
  return names.size;
}
