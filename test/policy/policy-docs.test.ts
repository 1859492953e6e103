import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ACTION_GROUPS, ACTIONS } from "../../src/policy/policy-actions.js";

/** Markdown table rows as trimmed cells (the formatter pads cells, so compare cells, not text). */
function tableRows(markdown: string): string[][] {
  return markdown
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) =>
      line
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

describe("docs/policy.md", () => {
  const rows = tableRows(readFileSync("docs/policy.md", "utf8"));
  const rowFor = (first: string) => rows.find((cells) => cells[0] === first);

  it("lists every action with its group", () => {
    for (const [action, spec] of Object.entries(ACTIONS)) {
      expect([action, rowFor(`\`${action}\``)?.[1]]).toEqual([
        action,
        spec.group === null ? "-" : `\`${spec.group}\``,
      ]);
    }
  });

  it("lists every action group with exactly its members", () => {
    for (const group of Object.keys(ACTION_GROUPS)) {
      const members = Object.entries(ACTIONS)
        .filter(([, spec]) => spec.group === group)
        .map(([action]) => `\`${action}\``)
        .join(", ");
      expect(rowFor(`\`${group}\``)?.[1]).toBe(members);
    }
  });
});
