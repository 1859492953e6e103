import { createHash } from "node:crypto";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { canonicalJson } from "../../../audit/canonical-json.js";

/**
 * What a rug pull would change: the parts of an upstream tool definition an agent (or its model) reads. Any
 * change to them is a new definition, refused until an administrator accepts it.
 */
export function definitionOf(tool: Tool): Record<string, unknown> {
  return {
    name: tool.name,
    title: tool.title ?? null,
    description: tool.description ?? null,
    inputSchema: tool.inputSchema ?? null,
    outputSchema: tool.outputSchema ?? null,
    annotations: tool.annotations ?? null,
  };
}

/** The canonical text of a definition and its hex SHA-256: what the pin store keeps. */
export function pinnedForm(tool: Tool): { readonly definition: string; readonly hash: string } {
  const definition = canonicalJson(definitionOf(tool));
  return { definition, hash: createHash("sha256").update(definition).digest("hex") };
}

/**
 * MCP tool names (2025-11-25): 1-128 characters of A-Z a-z 0-9 _ - . ("/" is not among them). The agent sees
 * `<connection>__<tool>`: both parts are in that alphabet already (connection names are [A-Za-z0-9_.-]), and the
 * session maps the name back through a table, never by splitting it, so "__" inside a name cannot confuse it.
 */
const MCP_TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
export const NAMESPACE_SEPARATOR = "__";

export function exposedToolName(connection: string, tool: string): string | undefined {
  const name = `${connection}${NAMESPACE_SEPARATOR}${tool}`;
  return MCP_TOOL_NAME.test(tool) && MCP_TOOL_NAME.test(name) ? name : undefined;
}
