import path from "node:path";
import { cruise, type ICruiseOptions, type ICruiseResult, type IViolation } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config";
import { describe, expect, it } from "vitest";

// The architecture is .dependency-cruiser.cjs; this test makes it binding (`npm run depcruise` prints it).
const RULES_FILE = "./.dependency-cruiser.cjs";
// A src/-shaped tree in which every rule is broken once (a comment names it), beside imports the rules allow.
const FIXTURE_DIR = "test/architecture/fixtures";

/** Cruises `src` under baseDir with the repository's rules; one line per violation: rule, from, to. */
async function violations(baseDir?: string): Promise<string[]> {
  const options: ICruiseOptions = await extractDepcruiseOptions(RULES_FILE);
  const tsConfig = extractTSConfig("tsconfig.json");
  const cruiseOptions = baseDir === undefined ? options : { ...options, baseDir };
  // Under a baseDir, packages are looked up from there only: point the resolver at the repository's own.
  const resolveOptions = { modules: ["node_modules", path.resolve("node_modules")] };
  const { output } = await cruise(["src"], cruiseOptions, resolveOptions, { tsConfig });
  const result = output as ICruiseResult;
  return result.summary.violations.map(describeViolation).sort();
}

function describeViolation(violation: IViolation): string {
  // A package is named by its name, not by the file its entry point happens to resolve to.
  const to = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(violation.to)?.[1] ?? violation.to;
  const cycle =
    violation.cycle === undefined
      ? ""
      : `  (cycle: ${violation.cycle.map((step) => step.name).join(" -> ")})`;
  return `${violation.rule.name}: ${violation.from} -> ${to}${cycle}`;
}

describe("dependency rules", () => {
  it("src/ breaks none of them", async () => {
    const found = await violations();
    if (found.length > 0) {
      expect.fail(
        `${found.length} dependency rule violation(s) (${RULES_FILE} says why):\n${found.join("\n")}`,
      );
    }
  });

  it("bite: each rule reports its deliberate violation in the fixture tree, and nothing else", async () => {
    const found = (await violations(FIXTURE_DIR)).map((line) => line.replace(/ {2}\(cycle: .*\)$/, ""));
    expect(found).toEqual(
      [
        "audit-jobs-stay-off-the-statement-path: src/pipeline/traced-pipeline.ts -> src/tracing/operation-tracing.ts",
        "every-import-resolves: src/cli/main.ts -> ./missing.js",
        "masking-core-is-protocol-neutral: src/masking/value-masker.ts -> src/sql/classification.ts",
        "neutral-core-knows-no-sql-dialect: src/pipeline/operation.ts -> src/sql/pg/verbs.ts",
        "neutral-core-knows-no-store-implementation: src/session/session-gate.ts -> src/store/sqlite-store.ts",
        "no-directory-cycles: src/config -> src/identity",
        "no-directory-cycles: src/identity -> src/config",
        "no-module-cycles: src/audit/event-chain.ts -> src/audit/event-hash.ts",
        "only-the-composition-root-imports-server: src/admin/admin-routes.ts -> src/server/metrics.ts",
        "production-code-not-from-dev-dependencies: src/cli/main.ts -> vitest",
        "production-code-not-from-test-or-bench: src/cli/main.ts -> test/helper.ts",
        "protocol-knows-no-policy-store-or-wiring: src/protocols/alpha/front.ts -> src/store/sqlite-store.ts",
        "protocols-are-independent: src/protocols/alpha/front.ts -> src/protocols/beta/codec.ts",
      ].sort(),
    );
  });
});
