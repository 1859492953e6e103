import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LATCH_CLI } from "../support/latch-serve.js";

/**
 * Issue 18: every `latch ...` command the docs show (in fenced shell blocks and in inline code) names commands
 * that exist and flags those commands take, checked against the compiled CLI's own --help.
 */
const files = [
  "README.md",
  ...readdirSync("docs")
    .filter((name) => name.endsWith(".md"))
    .map((name) => path.join("docs", name)),
];

interface Shown {
  readonly where: string;
  readonly words: readonly string[];
}

/** `latch` and what follows it up to the end of the shell command (a pipe, redirect, comment, `)` or `;`). */
function commandsIn(file: string): Shown[] {
  const shown: Shown[] = [];
  const lines = readFileSync(file, "utf8").split("\n");
  let fenced: string | undefined;
  lines.forEach((line, index) => {
    const fence = /^\s*```(\w*)/.exec(line);
    if (fence !== null) {
      fenced = fenced === undefined ? fence[1] : undefined;
      return;
    }
    const candidates =
      fenced === undefined
        ? [...line.matchAll(/`(latch [^`]+)`/g)].map((match) => match[1]!)
        : ["bash", "sh", "shell", "console"].includes(fenced)
          ? // Only where a shell command starts: `kubectl exec latch latch audit` names a pod first.
            [...line.matchAll(/(?:^\s*(?:\$\s+)?|\$\(|&&\s*|;\s*|\|\s*)(latch [^|>#;)`]+)/g)].map(
              (match) => match[1]!,
            )
          : [];
    for (const text of candidates) {
      const words = text.trim().replace(/\\$/, "").split(/\s+/).slice(1);
      shown.push({ where: `${file}:${index + 1}`, words });
    }
  });
  return shown;
}

const helpCache = new Map<string, string>();
function help(commandPath: readonly string[]): string {
  const key = commandPath.join(" ");
  let text = helpCache.get(key);
  if (text === undefined) {
    text = execFileSync(process.execPath, [LATCH_CLI, ...commandPath, "--help"], { encoding: "utf8" });
    helpCache.set(key, text);
  }
  return text;
}

function subcommandsOf(helpText: string): Set<string> {
  const section = helpText.split(/^Commands:$/m)[1] ?? "";
  return new Set([...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((match) => match[1]!));
}

const shown = files.flatMap(commandsIn);

describe("latch commands in the docs", () => {
  it("finds commands to check", () => {
    expect(shown.length).toBeGreaterThan(30);
  });

  it.each(shown.map((command) => [`${command.where}: latch ${command.words.join(" ")}`, command] as const))(
    "%s",
    (_title, command) => {
      const commandPath: string[] = [];
      for (const word of command.words) {
        if (!subcommandsOf(help(commandPath)).has(word)) break;
        commandPath.push(word);
      }
      expect(commandPath.length, `no such command: latch ${command.words.join(" ")}`).toBeGreaterThan(0);
      const text = help(commandPath);
      for (const word of command.words) {
        const flag = /^(--?[A-Za-z][\w-]*)/.exec(word)?.[1];
        if (flag === undefined || flag === "--help" || flag === "-h") continue;
        expect(text, `latch ${commandPath.join(" ")} has no ${flag}`).toMatch(
          new RegExp(`(^|[\\s,])${flag.replace(/[-]/g, "\\-")}([\\s,=<]|$)`, "m"),
        );
      }
    },
  );
});
