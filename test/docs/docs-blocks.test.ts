import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { configSchema } from "../../src/config/schema.js";
import { parsePolicySources } from "../../src/policy/load-policies.js";
import { cedarBlocks, configBlocks } from "./doc-blocks.js";

/**
 * Issue 18: the docs cannot drift from the code. Every fenced YAML block in README.md and docs/ that is a Latch
 * config (or a piece of one: only keys the config knows at its top level) must pass the config schema, and every
 * fenced Cedar block must compile against the policy schema.
 */

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
