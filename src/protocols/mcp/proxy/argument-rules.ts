import { canonicalJson } from "../../../audit/canonical-json.js";
import type { McpConnectionConfig } from "../../../config/schema.js";
import type { HttpStepFacts } from "../../../operation/operation.js";

/** Largest arguments object accepted, as JSON bytes. */
export const MAX_ARGUMENT_BYTES = 256 * 1024;
/** Most values shown to policy (context.body.values) and deepest nesting: beyond them the call is refused. */
const MAX_POLICY_VALUES = 256;
const MAX_DEPTH = 16;

export type RuleOutcome =
  | { readonly kind: "none" }
  | { readonly kind: "deny"; readonly reason: string }
  | { readonly kind: "approval"; readonly group: string; readonly reason: string };

type ToolSettings = McpConnectionConfig["tools"][string];

/**
 * A tool's argument rules from latch.yaml, checked in order before policy: the first deny (or unmet require)
 * refuses the call; an approval rule that matches makes an allowed call wait for its group.
 */
export function checkArgumentRules(
  settings: ToolSettings | undefined,
  args: Record<string, unknown>,
): RuleOutcome {
  let approval: RuleOutcome = { kind: "none" };
  for (const [index, rule] of (settings?.rules ?? []).entries()) {
    const value = valueAt(args, rule.pointer);
    const text = value === undefined ? undefined : typeof value === "string" ? value : canonicalJson(value);
    const matches = text !== undefined && new RegExp(rule.pattern, "u").test(text);
    const why =
      rule.reason ?? `argument rule ${index + 1} (${rule.pointer || "/"} ${rule.action} /${rule.pattern}/)`;
    if (rule.action === "deny" && matches) return { kind: "deny", reason: why };
    if (rule.action === "require" && !matches) return { kind: "deny", reason: why };
    if (rule.action === "approval" && matches && approval.kind === "none")
      approval = { kind: "approval", group: rule.group!, reason: why };
  }
  return approval;
}

/** RFC 6901: "" is the whole document; "/a/0/b~1c" walks keys and indexes. */
export function valueAt(document: unknown, pointer: string): unknown {
  if (pointer === "") return document;
  let current: unknown = document;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(key)) return undefined;
      current = current[Number(key)];
    } else if (current !== null && typeof current === "object" && Object.hasOwn(current, key)) {
      current = (current as Record<string, unknown>)[key];
    } else return undefined;
    if (current === undefined) return undefined;
  }
  return current;
}

/**
 * The arguments as Cedar sees them, in the HTTP body's shape (one context type serves every family):
 * context.body.kind "json", keys the top-level argument names, values every value by JSON pointer (strings as
 * they are, others as JSON). Undefined when there are too many values or too deep a nesting to show them all:
 * the call is then refused, as a policy could not see what it would judge.
 */
export function argumentFacts(args: Record<string, unknown>): HttpStepFacts | undefined {
  const values: Record<string, string> = {};
  let count = 0;
  const walk = (value: unknown, pointer: string, depth: number): boolean => {
    if (depth > MAX_DEPTH) return false;
    if (pointer !== "") {
      if (++count > MAX_POLICY_VALUES) return false;
      values[pointer] = typeof value === "string" ? value : canonicalJson(value ?? null);
    }
    if (Array.isArray(value)) return value.every((item, i) => walk(item, `${pointer}/${i}`, depth + 1));
    if (value !== null && typeof value === "object")
      return Object.entries(value).every(([key, item]) =>
        walk(item, `${pointer}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`, depth + 1),
      );
    return true;
  };
  if (!walk(args, "", 0)) return undefined;
  return {
    path: "",
    query: {},
    headers: {},
    bodyKind: "json",
    bodyKeys: Object.keys(args),
    bodyValues: values,
  };
}
