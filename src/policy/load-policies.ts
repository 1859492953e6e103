import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import { LatchError } from "../errors.js";
import { type ApprovalRequirement, readApprovalAnnotations } from "./approval-annotations.js";
import { CEDAR_SCHEMA_TEXT } from "./cedar-schema.js";
import {
  byteOffsetOfIndex,
  type PolicyChunk,
  positionOfByteOffset,
  positionOfIndex,
  splitPolicyText,
} from "./policy-source.js";
import { readPreviewAnnotation } from "./preview-annotation.js";

export interface LoadedPolicy {
  /** `@id("...")` when present, else "<file basename>:<index in file, from 0>", e.g. "agents.cedar:2". */
  readonly id: string;
  readonly file: string;
  /** 1-based line of the policy's first annotation or keyword. */
  readonly line: number;
  readonly effect: "permit" | "forbid";
  /** The policy's own source text, as handed to Cedar. */
  readonly text: string;
  /** Set on permits annotated `@approval("group")`: they allow only after approval. */
  readonly approval?: ApprovalRequirement;
  /** Set on permits annotated `@preview("true")`: writes they could allow are previewed first. */
  readonly preview?: true;
}

export interface PolicyProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export interface LoadedPolicies {
  /** Files read, in the order their policies were numbered. */
  readonly files: readonly string[];
  readonly policies: readonly LoadedPolicy[];
  /** Validator warnings (e.g. a policy that can never apply); they do not stop loading. */
  readonly warnings: readonly PolicyProblem[];
}

export interface PolicySource {
  readonly file: string;
  readonly text: string;
}

export interface CompiledPolicies extends LoadedPolicies {
  /** Parse, annotation and schema-validation errors. Empty means the policies are usable. */
  readonly problems: readonly PolicyProblem[];
}

/**
 * Reads every `*.cedar` file in `dir` (not recursive, sorted by name), parses and validates them against
 * the Latch schema. Throws LatchError config_invalid listing every problem as file:line:column.
 */
export async function loadPolicies(dir: string): Promise<LoadedPolicies> {
  return toLoadedPolicies(compilePolicySources(await readPolicySources(dir)));
}

/** Same as loadPolicies, for text already in memory (tests, fixtures, embedded demo policies). */
export function parsePolicySources(sources: readonly PolicySource[]): LoadedPolicies {
  return toLoadedPolicies(compilePolicySources(sources));
}

export async function readPolicySources(dir: string): Promise<PolicySource[]> {
  let names: string[];
  try {
    // A Kubernetes ConfigMap mounts each file as a symlink into a "..data" directory: follow links to files.
    const entries = (await readdir(dir, { withFileTypes: true })).filter((entry) =>
      entry.name.endsWith(".cedar"),
    );
    const files = await Promise.all(
      entries.map(
        async (entry) =>
          entry.isFile() || (entry.isSymbolicLink() && (await stat(path.join(dir, entry.name))).isFile()),
      ),
    );
    names = entries
      .filter((_, i) => files[i])
      .map((entry) => entry.name)
      .sort();
  } catch (cause) {
    throw new LatchError("config_invalid", {
      detail: `cannot read policies directory ${dir}: ${(cause as Error).message}`,
    });
  }
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name);
      return { file, text: await readFile(file, "utf8") };
    }),
  );
}

export function formatProblem(problem: PolicyProblem): string {
  return `${problem.file}:${problem.line}:${problem.column}: ${problem.message}`;
}

function toLoadedPolicies(compiled: CompiledPolicies): LoadedPolicies {
  if (compiled.problems.length > 0) {
    const lines = compiled.problems.map((problem) => `  - ${formatProblem(problem)}`);
    throw new LatchError("config_invalid", { detail: `invalid policies:\n${lines.join("\n")}` });
  }
  return { files: compiled.files, policies: compiled.policies, warnings: compiled.warnings };
}

interface PolicyOrigin {
  readonly source: PolicySource;
  readonly start: number;
}

/** Parses, reads annotations and validates; never throws, every problem is reported with its position. */
export function compilePolicySources(sources: readonly PolicySource[]): CompiledPolicies {
  const problems: PolicyProblem[] = [];
  const policies: LoadedPolicy[] = [];
  const origins = new Map<string, PolicyOrigin>();
  for (const source of sources) {
    const parsed = cedar.checkParsePolicySet({ staticPolicies: source.text });
    if (parsed.type === "failure") {
      problems.push(...parsed.errors.flatMap((error) => describeCedarError(source, 0, error)));
      continue;
    }
    for (const [index, chunk] of splitPolicyText(source.text).entries()) {
      const at = positionOfIndex(source.text, chunk.start);
      const read = readPolicy(source, chunk, index, origins);
      if (typeof read === "string") {
        problems.push({ file: source.file, ...at, message: read });
        continue;
      }
      origins.set(read.id, { source, start: chunk.start });
      policies.push({ ...read, line: at.line });
    }
  }
  const warnings: PolicyProblem[] = [];
  if (policies.length > 0) validateAgainstSchema(policies, origins, problems, warnings);
  const byPosition = (a: PolicyProblem, b: PolicyProblem) =>
    a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column;
  return {
    files: sources.map((source) => source.file),
    policies,
    problems: problems.sort(byPosition),
    warnings: warnings.sort(byPosition),
  };
}

/** The policy in one chunk, or the problem with it. */
function readPolicy(
  source: PolicySource,
  chunk: PolicyChunk,
  index: number,
  origins: ReadonlyMap<string, PolicyOrigin>,
): Omit<LoadedPolicy, "line"> | string {
  const json = cedar.policyToJson(chunk.text);
  if (json.type === "failure") return json.errors.map((error) => error.message).join("; ");
  const annotations = json.json.annotations ?? {};
  const explicitId = annotations.id;
  if (explicitId === null || explicitId?.trim() === "") return '@id needs a value: @id("read-demo")';
  const id = explicitId ?? `${path.basename(source.file)}:${index}`;
  const previous = origins.get(id);
  if (previous !== undefined) {
    const where = `${previous.source.file}:${positionOfIndex(previous.source.text, previous.start).line}`;
    return `policy id "${id}" is already used at ${where}; ids must be unique`;
  }
  const approval = readApprovalAnnotations(json.json.effect, annotations);
  if (!approval.ok) return approval.problem;
  const preview = readPreviewAnnotation(json.json.effect, annotations);
  if (!preview.ok) return preview.problem;
  return {
    id,
    file: source.file,
    effect: json.json.effect,
    text: chunk.text,
    ...(approval.approval === undefined ? {} : { approval: approval.approval }),
    ...(preview.preview ? { preview: true as const } : {}),
  };
}

function validateAgainstSchema(
  policies: readonly LoadedPolicy[],
  origins: ReadonlyMap<string, PolicyOrigin>,
  problems: PolicyProblem[],
  warnings: PolicyProblem[],
): void {
  const answer = cedar.validate({
    schema: CEDAR_SCHEMA_TEXT,
    policies: { staticPolicies: Object.fromEntries(policies.map((policy) => [policy.id, policy.text])) },
  });
  if (answer.type === "failure") {
    // The schema is ours: a failure here is a Latch bug, reported against the first file so it is seen.
    const first = policies[0]!;
    for (const error of answer.errors) {
      problems.push({ file: first.file, line: 1, column: 1, message: `schema error: ${error.message}` });
    }
    return;
  }
  const report = (target: PolicyProblem[], found: readonly cedar.ValidationError[]) => {
    // The validator repeats one mistake once per action it checks the policy against; keep the first.
    const seen = new Set<string>();
    for (const { policyId, error } of found) {
      const origin = origins.get(policyId);
      if (origin === undefined) continue;
      const location = error.sourceLocations?.[0];
      const key = `${policyId}\u0000${location?.start}\u0000${location?.end}`;
      if (seen.has(key)) continue;
      seen.add(key);
      target.push(...describeCedarError(origin.source, origin.start, error, policyId));
    }
  };
  report(problems, answer.validationErrors);
  report(warnings, answer.validationWarnings);
}

const TEMPLATES_UNSUPPORTED = "policy templates (?principal, ?resource) are not supported: name the entity";

/** One problem per Cedar error and per related error, each at its own position. */
function describeCedarError(
  source: PolicySource,
  chunkStart: number,
  error: cedar.DetailedError,
  policyId?: string,
): PolicyProblem[] {
  const chunkByteStart = byteOffsetOfIndex(source.text, chunkStart);
  const location = error.sourceLocations?.[0];
  const position =
    location === undefined
      ? positionOfIndex(source.text, chunkStart)
      : positionOfByteOffset(source.text, chunkByteStart + location.start);
  const message = [
    policyId === undefined || error.message.includes(`\`${policyId}\``) ? "" : `policy ${policyId}: `,
    error.message
      .replace(/^failed to parse policies from string: /, "")
      .replace(/^static policy set includes a template$/, TEMPLATES_UNSUPPORTED),
    location?.label ? ` (${location.label})` : "",
    error.help ? `; ${error.help}` : "",
  ].join("");
  const own: PolicyProblem = { file: source.file, ...position, message };
  const related = (error.related ?? []).flatMap((inner) =>
    describeCedarError(source, chunkStart, inner, policyId),
  );
  return [own, ...related];
}
