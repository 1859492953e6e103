/**
 * What a SQL classifier reports about one piece of SQL text. Dialect-neutral: the pipeline and policy see
 * only these shapes, never a parse tree.
 */

import type { Access, OperationStep } from "../operation/operation.js";

export type { Access, ResourceRef } from "../operation/operation.js";

export interface ClassifiedStatement {
  /** This statement's own text (a slice of the input for multi-statement text). */
  readonly text: string;
  /** Parser node type, e.g. "SelectStmt", "DeleteStmt", "VariableSetStmt". */
  readonly nodeType: string;
  /** Primary action of the statement, e.g. "sql:select" (also the first access's action). */
  readonly verb: string;
  readonly accesses: readonly Access[];
  readonly tablesRead: readonly string[];
  readonly tablesWritten: readonly string[];
  /** Every function called anywhere in the statement, schema-qualified when written so. */
  readonly functions: readonly string[];
  /** True when nothing in the statement can change data, schema, roles or session security state. */
  readonly readOnly: boolean;
  /** For UPDATE/DELETE (including in CTEs): false if any of them has no WHERE clause. True otherwise. */
  readonly hasWhere: boolean;
  /** The statement as the pipeline and policy see it (built once, at classification). */
  readonly step: OperationStep;
  /** SQL-level PREPARE name AS ...: the session remembers the inner classification under this name. */
  readonly prepares?: { readonly name: string; readonly inner: ClassifiedStatement };
  /** SQL-level EXECUTE name: the session must substitute the remembered classification (deny if unknown). */
  readonly executes?: string;
  /** SQL-level DEALLOCATE name, or "*" for DEALLOCATE ALL. */
  readonly deallocates?: string;
}

export type Classification =
  | { readonly ok: true; readonly statements: readonly ClassifiedStatement[] }
  | {
      readonly ok: false;
      /** "unparseable" (parser error) or "unsupported" (parsed, but a node type Latch does not allow-list). */
      readonly failure: "unparseable" | "unsupported";
      readonly reason: string;
    };

export interface StatementClassifier {
  /** Pure and synchronous; never throws (failures come back as { ok: false }). */
  classify(text: string): Classification;
}
