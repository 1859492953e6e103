import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LatchError } from "../../src/errors.js";
import { compilePolicySources, loadPolicies, parsePolicySources } from "../../src/policy/load-policies.js";

const dirs: string[] = [];
async function policyDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "latch-policies-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function loadError(dir: string): Promise<LatchError> {
  const error = await loadPolicies(dir).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(LatchError);
  expect((error as LatchError).code).toBe("config_invalid");
  return error as LatchError;
}

describe("loadPolicies", () => {
  it("reads a Kubernetes ConfigMap mount: files are symlinks into ..data", async () => {
    const dir = await policyDir({});
    const versioned = path.join(dir, "..2026_12_01_12_00_00.000000001");
    await mkdir(versioned);
    await writeFile(
      path.join(versioned, "agents.cedar"),
      'permit(principal in Group::"agents", action in Action::"sql:read", resource);\n',
    );
    await symlink(path.basename(versioned), path.join(dir, "..data"));
    await symlink(path.join("..data", "agents.cedar"), path.join(dir, "agents.cedar"));
    const loaded = await loadPolicies(dir);
    expect(loaded.policies.length).toBe(1);
  });

  it("loads the example policies with ids, lines and approval annotations", async () => {
    const loaded = await loadPolicies(path.resolve("examples/policies"));
    expect(loaded.files.map((file) => path.basename(file))).toEqual(["agents.cedar", "prod-approvals.cedar"]);
    expect(loaded.warnings).toEqual([]);
    const byId = new Map(loaded.policies.map((policy) => [policy.id, policy]));
    expect(byId.get("agents-read-demo")).toMatchObject({ effect: "permit", line: 6 });
    expect(byId.get("demo-payments-sealed")?.effect).toBe("forbid");
    expect(byId.get("agents-write-prod-with-approval")?.approval).toEqual({ group: "dba", quorum: 1 });
    expect(byId.get("agents-ddl-prod-two-dbas")?.approval).toEqual({ group: "dba", quorum: 2 });
  });

  it("reads only *.cedar files, in name order, numbering policies per file", async () => {
    const dir = await policyDir({
      "b.cedar": "permit(principal, action, resource);",
      "a.cedar": `forbid(principal, action, resource == Table::"x/public.t");\n\npermit(principal, action, resource);`,
      "notes.txt": "this is not a policy",
    });
    const loaded = await loadPolicies(dir);
    expect(loaded.policies.map((policy) => [policy.id, policy.line])).toEqual([
      ["a.cedar:0", 1],
      ["a.cedar:1", 3],
      ["b.cedar:0", 1],
    ]);
  });

  it("numbers policies in file order even past ten (Cedar's own split sorts policy10 before policy2)", () => {
    const text = Array.from(
      { length: 12 },
      (_, i) => `permit(principal == User::"u${i}", action, resource);`,
    ).join("\n// a comment; with a semicolon\n");
    const loaded = parsePolicySources([{ file: "many.cedar", text }]);
    expect(loaded.policies.map((policy) => policy.id)).toEqual(
      Array.from({ length: 12 }, (_, i) => `many.cedar:${i}`),
    );
    expect(loaded.policies[11]?.text).toBe(`permit(principal == User::"u11", action, resource);`);
    expect(loaded.policies[11]?.line).toBe(23);
  });

  it("names the file, line and column of a syntax error", async () => {
    const dir = await policyDir({
      "good.cedar": "permit(principal, action, resource);",
      "broken.cedar":
        "// déjà vu: non-ASCII before the error\npermit(principal, action, resource);\n\npermit(principal, action, resource)\n  when { 1 + };\n",
    });
    const error = await loadError(dir);
    expect(error.message).toContain(`${path.join(dir, "broken.cedar")}:5:14: unexpected token`);
  });

  it("rejects a policy that parses but does not validate against the schema", async () => {
    const dir = await policyDir({
      "typo.cedar": `permit(principal, action == Action::"sql:select", resource)\n  when { context.tim.hour > 3 };`,
      "types.cedar": `permit(principal, action, resource) when { principal.issuer == 3 };`,
      "actions.cedar": `permit(principal, action == Action::"sql:selekt", resource);`,
      "entities.cedar": `permit(principal in Team::"a", action, resource);`,
    });
    const { message } = await loadError(dir);
    expect(message).toContain(`${path.join(dir, "typo.cedar")}:2:10:`);
    expect(message).toContain("attribute `tim` in context");
    expect(message).toContain("did you mean `time`?");
    expect(message).toContain(`${path.join(dir, "types.cedar")}:1:`);
    expect(message).toContain(`${path.join(dir, "actions.cedar")}:1:`);
    expect(message).toContain("sql:selekt");
    expect(message).toContain(`${path.join(dir, "entities.cedar")}:1:`);
    // One mistake is reported once, not once per action the validator tried.
    expect(message.match(/attribute `tim`/g)).toHaveLength(1);
  });

  it("keeps validator warnings without refusing the policies", () => {
    const loaded = parsePolicySources([
      { file: "w.cedar", text: `permit(principal, action == Action::"sql:read", resource);` },
    ]);
    expect(loaded.policies).toHaveLength(1);
    expect(loaded.warnings[0]?.message).toContain("unable to find an applicable action");
  });

  it("checks approval annotations", () => {
    const problems = (text: string) =>
      compilePolicySources([{ file: "a.cedar", text }]).problems.map((problem) => problem.message);
    expect(problems(`@approval permit(principal, action, resource);`)).toEqual([
      '@approval needs a group name: @approval("dba")',
    ]);
    expect(problems(`@approval("dba") forbid(principal, action, resource);`)[0]).toContain(
      "only makes sense on a permit",
    );
    expect(problems(`@quorum("2") permit(principal, action, resource);`)[0]).toContain(
      "@quorum needs @approval",
    );
    for (const bad of ["0", "two", "-1", "1.5", "101", ""]) {
      expect(
        problems(`@approval("dba") @quorum("${bad}") permit(principal, action, resource);`)[0],
      ).toContain("@quorum must be a whole number");
    }
    expect(problems(`@approval("dba") @quorum("100") permit(principal, action, resource);`)).toEqual([]);
  });

  it("uses @id and refuses duplicate ids across files", async () => {
    const dir = await policyDir({
      "a.cedar": `@id("read") permit(principal, action, resource);`,
      "b.cedar": `\n@id("read") permit(principal, action, resource);`,
    });
    const { message } = await loadError(dir);
    expect(message).toContain(`${path.join(dir, "b.cedar")}:2:1: policy id "read" is already used at`);
    expect(message).toContain(`${path.join(dir, "a.cedar")}:1`);
  });

  it("refuses templates, which Latch does not link", () => {
    const { problems } = compilePolicySources([
      { file: "t.cedar", text: `permit(principal == ?principal, action, resource);` },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ line: 1, message: expect.stringContaining("templates") });
  });

  it("accepts an empty directory (everything is then denied) and refuses a missing one", async () => {
    const empty = await policyDir({});
    expect((await loadPolicies(empty)).policies).toEqual([]);
    const error = await loadError(path.join(empty, "missing"));
    expect(error.message).toContain("cannot read policies directory");
  });
});
