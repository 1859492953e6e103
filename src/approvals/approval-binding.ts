import { createHash } from "node:crypto";
import { canonicalJson } from "../audit/canonical-json.js";
import type { Access, Operation } from "../operation/operation.js";

/**
 * What an approval is bound to. A statement approval binds the exact text: SHA-256 over the canonical JSON of
 * (connection, issuer, subject, statement texts, SHA-256 of each full bound parameter), so an approval can never release a
 * different statement, other parameters, or the same statement for someone else. A grant binds the kind of
 * action instead: the set of `action resource` pairs the operation touches.
 */

/** 2: parameters are bound by the digests of their full bytes, not by their (truncated) previews. */
const BINDING_VERSION = 2;

export function statementBinding(operation: Operation): string {
  const body = canonicalJson({
    v: BINDING_VERSION,
    connection: operation.connection,
    issuer: operation.identity.issuer,
    subject: operation.identity.subject,
    statements: operationTexts(operation),
    parameters: operation.parameterDigests ?? operation.parameters ?? null,
  });
  return createHash("sha256").update(body).digest("hex");
}

/** What the client sent, step by step: what a request shows its approvers. */
export function operationTexts(operation: Operation): string[] {
  return operation.steps.map((step) => step.text);
}

/** `sql:update Table:public.orders`, `sql:ddl Connection`: one string per access, comparable as is. */
export function accessKey(access: Access): string {
  const resource = access.resource;
  return resource.type === "Connection"
    ? `${access.action} Connection`
    : `${access.action} ${resource.type}:${resource.name}`;
}

/** Every access of every statement, deduplicated and sorted. */
export function operationAccessKeys(operation: Operation): string[] {
  return [...new Set(operation.steps.flatMap((step) => step.accesses.map(accessKey)))].sort();
}

/** A grant covers an operation only if it covers every single access the operation makes. */
export function grantCovers(grantAccesses: readonly string[], operationAccesses: readonly string[]): boolean {
  if (operationAccesses.length === 0) return false;
  const covered = new Set(grantAccesses);
  return operationAccesses.every((key) => covered.has(key));
}

const RESOURCE = /^(?:(Table|Function):)?([A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?)$/;

/**
 * Parses what an agent names up front: `Connection`, a table (`orders`, `public.orders`, `Table:public.orders`)
 * or `Function:schema.name`. Names are folded to lower case and tables default to schema public, as
 * PostgreSQL resolves them, so the grant matches what the classifier reports. Returns undefined if malformed.
 */
export function parseResource(text: string): Access["resource"] | undefined {
  const trimmed = text.trim();
  if (trimmed === "Connection") return { type: "Connection" };
  const match = RESOURCE.exec(trimmed);
  if (match === null) return undefined;
  const type = (match[1] ?? "Table") as "Table" | "Function";
  const name = match[2]!.toLowerCase();
  if (type === "Table") return { type, name: name.includes(".") ? name : `public.${name}` };
  return { type, name };
}
