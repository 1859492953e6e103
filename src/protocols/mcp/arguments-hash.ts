import { createHash } from "node:crypto";
import { canonicalJson } from "../../audit/canonical-json.js";

/** Hex SHA-256 of a tool call (name and canonical arguments): what the record and an approval are bound to. */
export function argumentsHash(tool: string, args: unknown): string {
  return createHash("sha256")
    .update(canonicalJson({ tool, arguments: args ?? {} }))
    .digest("hex");
}
