import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { createJsonMasker, type JsonMasker, type JsonValue } from "../../../masking/json-masker.js";
import type { MaskTally } from "../../../masking/mask-tally.js";
import type { CompiledMaskingProfile } from "../../../masking/masking-profile.js";
import { ValueMasker } from "../../../masking/value-masker.js";

type Content = CallToolResult["content"][number];

/** What the record keeps of a result: sizes and a short masked preview, never the clear text. */
export interface ResultSummary {
  readonly bytes: number;
  readonly blocks: number;
  readonly withheld: number;
  readonly preview: string;
}

const PREVIEW_CHARS = 200;

/**
 * Masks an upstream tool result with the connection's content detectors before the agent (or the record) sees
 * it: every text (content blocks, embedded text resources, link names) and the structured content as JSON.
 * Binary blocks (image, audio, blob resources) cannot be inspected, so on a masked connection they are
 * withheld and replaced by a note. Upstream `_meta` is dropped: it is not the tool's answer. Throws a
 * MaskingFailure (json-masker) when the structured content cannot be masked safely.
 *
 * With a `tally` (tracing on), each text and the structured content count as a row when something in them was
 * masked, and a withheld binary block marks the result withheld (part of it did not reach the agent).
 */
export class ToolResultMasker {
  private readonly text: ValueMasker;
  private readonly json: JsonMasker;

  constructor(private readonly profile: CompiledMaskingProfile) {
    this.text = new ValueMasker(profile.detectors);
    this.json = createJsonMasker({ detectors: profile.detectors });
  }

  mask(result: CallToolResult, tally?: MaskTally): { result: CallToolResult; summary: ResultSummary } {
    let withheld = 0;
    const active = this.profile.active;
    const maskText = (value: string) =>
      active ? (this.text.maskTextTallied(value, false, tally) ?? "") : value;
    const content = (Array.isArray(result.content) ? result.content : []).map((block): Content => {
      switch (block.type) {
        case "text":
          return { type: "text", text: maskText(block.text) };
        case "resource":
          if ("text" in block.resource && typeof block.resource.text === "string")
            return {
              type: "resource",
              resource: { uri: block.resource.uri, text: maskText(block.resource.text) },
            };
          if (!active) return { type: "resource", resource: block.resource };
          withheld++;
          return { type: "text", text: "[binary resource withheld by Latch: it cannot be masked]" };
        case "resource_link":
          return {
            type: "resource_link",
            uri: maskText(block.uri),
            name: maskText(block.name),
            ...(block.description === undefined ? {} : { description: maskText(block.description) }),
            ...(block.mimeType === undefined ? {} : { mimeType: block.mimeType }),
          };
        default:
          if (!active) return block;
          withheld++;
          return { type: "text", text: `[${block.type} content withheld by Latch: it cannot be masked]` };
      }
    });
    const masked: CallToolResult = {
      content,
      ...(result.structuredContent === undefined
        ? {}
        : {
            structuredContent: (active
              ? this.json.mask(result.structuredContent as JsonValue, tally)
              : result.structuredContent) as Record<string, unknown>,
          }),
      ...(result.isError === true ? { isError: true } : {}),
    };
    if (withheld > 0) tally?.noteWithheld();
    const firstText = content.find((block) => block.type === "text");
    return {
      result: masked,
      summary: {
        bytes: Buffer.byteLength(JSON.stringify(masked)),
        blocks: content.length,
        withheld,
        preview: firstText?.type === "text" ? firstText.text.slice(0, PREVIEW_CHARS) : "",
      },
    };
  }
}
