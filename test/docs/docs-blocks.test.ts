import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { configSchema } from "../../src/config/schema.js";
import { parsePolicySources } from "../../src/policy/load-policies.js";

/**
 * Issue 18: the docs cannot drift from the code. Every fenced YAML block in README.md and docs/ that is a Latch
 * config (or a piece of one: only keys the config knows at its top level) must pass the config schema, and every
 * fenced Cedar block must compile against the policy schema.
 */
const files = [
  "README.md",
  ...readdirSync("docs")
    .filter((name) => name.endsWith(".md"))
    .map((name) => path.join("docs", name)),
];
const CONFIG_KEYS = new Set(Object.keys(configSchema.shape));

interface Block {
  readonly file: string;
  readonly line: number;
  readonly lang: string;
  readonly text: string;
}

function fencedBlocks(file: string): Block[] {
  const lines = readFileSync(file, "utf8").split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w+)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const indent = open[1]!.length;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++;
    blocks.push({
      file,
      line: start,
      lang: open[2]!,
      text: lines
        .slice(start, end)
        .map((line) => line.slice(indent))
        .join("\n"),
    });
    i = end;
  }
  return blocks;
}

const blocks = files.flatMap(fencedBlocks);
const configBlocks = blocks.filter((block) => {
  if (block.lang !== "yaml" && block.lang !== "yml") return false;
  let doc: unknown;
  try {
    doc = parseYaml(block.text);
  } catch {
    return true; // a YAML block that does not even parse fails below
  }
  return (
    typeof doc === "object" &&
    doc !== null &&
    !Array.isArray(doc) &&
    Object.keys(doc).every((key) => CONFIG_KEYS.has(key))
  );
});
const cedarBlocks = blocks.filter((block) => block.lang === "cedar");

describe("docs", () => {
  it("has config and policy examples to check", () => {
    expect(configBlocks.length).toBeGreaterThanOrEqual(5);
    expect(cedarBlocks.length).toBeGreaterThanOrEqual(4);
  });

  it.each(configBlocks.map((block) => [`${block.file}:${block.line}`, block] as const))(
    "config block %s passes the config schema",
    (_where, block) => {
      const result = configSchema.safeParse(parseYaml(block.text));
      expect(
        result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`),
      ).toEqual([]);
    },
  );

  it.each(cedarBlocks.map((block) => [`${block.file}:${block.line}`, block] as const))(
    "policy block %s compiles",
    (_where, block) => {
      expect(() =>
        parsePolicySources([{ file: `${block.file}:${block.line}`, text: block.text }]),
      ).not.toThrow();
    },
  );
});
