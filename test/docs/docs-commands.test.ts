import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { LATCH_CLI } from "../support/latch-serve.js";

/**
 * Issue 18: every `latch ...` command the docs show (in fenced shell blocks and in inline code) names commands
 * that exist and flags those commands take, checked against the help of the compiled CLI's own command tree.
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

const run = promisify(execFile);
// The compiled CLI's own command tree, built in this process: its help is what `latch <command> --help` prints,
// without a Node process (about a second of CPU) per command.
const { buildProgram } = (await import(
  pathToFileURL(path.join(path.dirname(LATCH_CLI), "program.js")).href
)) as {
  buildProgram: () => Command;
};
const program = buildProgram();
const helpCache = new Map<string, Promise<string>>();
function help(commandPath: readonly string[]): Promise<string> {
  const key = commandPath.join(" ");
  let text = helpCache.get(key);
  if (text === undefined) {
    let command = program;
    for (const word of commandPath) {
      const next = command.commands.find((sub) => sub.name() === word || sub.aliases().includes(word));
      if (next === undefined) throw new Error(`no command latch ${key}`);
      command = next;
    }
    let out = "";
    command.configureOutput({
      writeOut: (chunk) => {
        out += chunk;
      },
    });
    command.outputHelp(); // with any addHelpText, as --help prints it
    text = Promise.resolve(out);
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
    async (_title, command) => {
      const commandPath: string[] = [];
      for (const word of command.words) {
        if (!subcommandsOf(await help(commandPath)).has(word)) break;
        commandPath.push(word);
      }
      expect(commandPath.length, `no such command: latch ${command.words.join(" ")}`).toBeGreaterThan(0);
      const text = await help(commandPath);
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

/**
 * The commands the docs show that run offline and name nothing to fill in (no `...`, FILE, <x> or [x]) are run
 * as shown, from the repository root, and must succeed: `latch policy check --policies examples/policies` works.
 * A policy command is run only when it names the repository's own files (examples/, deploy/): a bare
 * `latch policy check` means the reader's policies directory, which the repository does not have.
 */
const OFFLINE = ["config check", "config schema", "policy check", "policy test"];
const runnable = shown.filter((command) => {
  const text = command.words.join(" ");
  if (!OFFLINE.some((prefix) => text.startsWith(prefix))) return false;
  if (command.words.some((word) => /\.\.\.|^[A-Z_]+$|[<>[\]]|\$/.test(word))) return false;
  return (
    text.startsWith("config") ||
    command.words.some((word) => /^(examples|deploy)\//.test(word) && existsSync(word))
  );
});

describe("offline latch commands in the docs run", () => {
  it("finds some to run", () => {
    expect(runnable.length).toBeGreaterThanOrEqual(3);
  });

  it.each(
    runnable.map((command) => [`${command.where}: latch ${command.words.join(" ")}`, command] as const),
  )("%s", async (_title, command) => {
    // Asynchronous, so the test worker keeps answering vitest while the CLI runs.
    const result = await run(process.execPath, [LATCH_CLI, ...command.words], { timeout: 60_000 }).then(
      () => ({ code: 0, output: "" }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        output: `${error.stdout}${error.stderr}`,
      }),
    );
    expect(result.code, result.output).toBe(0);
  });
});
