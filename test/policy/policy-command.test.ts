import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it } from "vitest";
import {
  type CommandOutput,
  registerPolicyCommands,
  runPolicyCheck,
  runPolicyTestFile,
} from "../../src/cli/commands/policy.js";

function collector(): CommandOutput & { out_: string[]; err_: string[] } {
  const out_: string[] = [];
  const err_: string[] = [];
  return { out_, err_, out: (line) => out_.push(line), err: (line) => err_.push(line) };
}

const dirs: string[] = [];
async function tempDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "latch-policy-cli-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("latch policy check", () => {
  it("prints every policy id with OK for the examples", async () => {
    const output = collector();
    expect(await runPolicyCheck({ policies: "examples/policies" }, output)).toBe(0);
    expect(output.out_).toContain(
      "OK    agents-write-prod-with-approval  permit  examples/policies/prod-approvals.cedar:26  (approval: dba, quorum 1)",
    );
    expect(output.out_.at(-1)).toBe("13 policies in 2 files: OK");
    expect(output.err_).toEqual([]);
  });

  it("takes the directory from the config file when --policies is absent", async () => {
    const dir = await tempDir({ "latch.yaml": "policies: ./rules\n" });
    const output = collector();
    // ./rules does not exist next to the config: the error names the resolved directory.
    await expect(runPolicyCheck({ config: path.join(dir, "latch.yaml") }, output)).rejects.toThrow(
      path.join(dir, "rules"),
    );
  });

  it("reports every problem with file and line and exits 1", async () => {
    const dir = await tempDir({
      "a.cedar": "permit(principal, action, resource)\n  when { 1 + };\n",
      "b.cedar": `permit(principal, action, resource) when { context.statment.has_where };`,
    });
    const output = collector();
    expect(await runPolicyCheck({ policies: dir }, output)).toBe(1);
    expect(output.err_[0]).toMatch(new RegExp(`^error: ${path.join(dir, "a.cedar")}:2:14: unexpected token`));
    expect(output.err_[1]).toContain(`error: ${path.join(dir, "b.cedar")}:1:44:`);
    expect(output.err_[1]).toContain("statment");
    expect(output.err_[2]).toBe(`2 problems in ${dir}: the gateway would refuse to start`);
    expect(output.out_).toEqual([]);
  });

  it("registers check, test and reload under `latch policy` with help", () => {
    const program = new Command();
    registerPolicyCommands(program);
    const policy = program.commands.find((command) => command.name() === "policy");
    expect(policy?.commands.map((command) => command.name())).toEqual([
      "check",
      "test",
      "replay",
      "suggest",
      "reload",
    ]);
    expect(policy?.commands[1]?.helpInformation()).toContain("--policies <dir>");
  });
});

describe("latch policy test", () => {
  it("runs the example fixtures through the real SQL classifier", async () => {
    const output = collector();
    const code = await runPolicyTestFile(
      "examples/policy-tests.yaml",
      { policies: "examples/policies" },
      output,
    );
    expect(output.out_.filter((line) => !line.startsWith("PASS"))).toEqual(["16 passed, 0 failed, 16 cases"]);
    expect(code).toBe(0);
  });

  it("prints FAIL with the reason and exits 1 when a case fails", async () => {
    const dir = await tempDir({
      "cases.yaml": `cases:
  - { name: agent deletes on demo, principal: ci-bot, groups: [agents], connection: demo, sql: "DELETE FROM users WHERE id = 1", expect: allow }
  - { name: agent reads on demo, principal: ci-bot, groups: [agents], connection: demo, sql: "SELECT * FROM users", expect: allow }
`,
    });
    const output = collector();
    const code = await runPolicyTestFile(
      path.join(dir, "cases.yaml"),
      { policies: "examples/policies" },
      output,
    );
    expect(output.out_).toEqual([
      "FAIL  agent deletes on demo: expected allow, got deny (sql:delete on table public.users is forbidden for ci-bot (groups: agents) on connection demo by policy agents-no-writes-demo)",
      "PASS  agent reads on demo",
      "1 passed, 1 failed, 2 cases",
    ]);
    expect(code).toBe(1);
  });
});
