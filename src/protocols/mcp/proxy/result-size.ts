import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/**
 * The size of an upstream tool result as Latch would mask, record and pass it on, in UTF-8 bytes: every text
 * (content blocks, text resources, link names and descriptions), every binary payload as sent (base64), and
 * the structured content as JSON. Taken before masking, so an oversized result costs a count, not a masking
 * pass over it. Stops adding up once past `cap` (the structured content is not serialised then).
 */
export function resultBytes(result: CallToolResult, cap: number): number {
  let bytes = 0;
  for (const block of Array.isArray(result.content) ? result.content : []) {
    switch (block.type) {
      case "text":
        bytes += Buffer.byteLength(block.text);
        break;
      case "image":
      case "audio":
        bytes += block.data.length;
        break;
      case "resource":
        bytes += Buffer.byteLength(block.resource.uri);
        if ("text" in block.resource && typeof block.resource.text === "string")
          bytes += Buffer.byteLength(block.resource.text);
        else if ("blob" in block.resource && typeof block.resource.blob === "string")
          bytes += block.resource.blob.length;
        break;
      case "resource_link":
        bytes += Buffer.byteLength(block.uri) + Buffer.byteLength(block.name);
        if (typeof block.description === "string") bytes += Buffer.byteLength(block.description);
        break;
      default:
        bytes += Buffer.byteLength(JSON.stringify(block) ?? "");
    }
    if (bytes > cap) return bytes;
  }
  if (result.structuredContent !== undefined)
    bytes += Buffer.byteLength(JSON.stringify(result.structuredContent) ?? "");
  return bytes;
}
