import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { configSchema } from "../../src/config/schema.js";

/** The fenced blocks of README.md and docs/*.md that the docs tests check. */
const files = [
  "README.md",
  ...readdirSync("docs")
    .filter((name) => name.endsWith(".md"))
    .map((name) => path.join("docs", name)),
];
const CONFIG_KEYS = new Set(Object.keys(configSchema.shape));

export interface Block {
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
export const configBlocks = blocks.filter((block) => {
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
export const cedarBlocks = blocks.filter((block) => block.lang === "cedar");
