import type { ClassifiedStatement } from "./classification.js";

/** A function whose effect a rolled-back transaction keeps, and why, in one dialect's table. */
export interface EscapingFunction {
  readonly pattern: RegExp;
  readonly why: string;
}

/**
 * Why a preview may not run a statement because of a function it calls, or undefined: one the dialect lists as
 * escaping the transaction, or one the classifier does not know as harmless (a stored function or UDF may do
 * anything: commit, write a non-transactional table, reach another server). Shared by both dialects' previews.
 */
export function functionPreviewRefusal(
  statement: Pick<ClassifiedStatement, "functions" | "accesses">,
  escaping: readonly EscapingFunction[],
): string | undefined {
  for (const name of statement.functions) {
    const bare = name.toLowerCase().replace(/^.*\./, "");
    const found = escaping.find((entry) => entry.pattern.test(bare));
    if (found !== undefined) return `it calls ${name}(), which ${found.why}`;
  }
  const unknown = statement.accesses.find(
    (access) => access.action === "sql:function" || access.action === "sql:admin_function",
  );
  if (unknown !== undefined && unknown.resource.type === "Function")
    return `it calls ${unknown.resource.name}(), whose side effects Latch cannot see`;
  return undefined;
}
