import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { configSchema } from "../../src/config/schema.js";
import { createTokenVerifier } from "../../src/identity/create-token-verifier.js";
import type { Identity } from "../../src/identity/identity.js";
import type { PolicyEngine } from "../../src/policy/policy-engine.js";
import { engineFor, onConnection, onTable, request, statement } from "../policy/policy-test-helpers.js";
import { startOidcProvider, type TestOidcProvider } from "../support/oidc-provider.js";

/**
 * Issue 18: docs/quickstart-ci.md's issuer blocks and policies against tokens shaped like the real ones from
 * GitHub Actions, GitLab CI and a Kubernetes projected service account token. The tokens come from a real
 * `oidc-provider` (test/support/oidc-provider.ts): it can set any `sub` (the client id), `aud: latch`
 * (a resource indicator) and any extra claim, nested ones and names with dots included, so no hand-made JWKS
 * issuer is needed. The blocks are read from the page, so the page and this test cannot drift; only `issuer`
 * and `jwks_uri` are pointed at the test provider.
 */
const DOC = "docs/quickstart-ci.md";

interface DocSection {
  readonly issuerBlock: Record<string, unknown>;
  readonly policy: string;
}

/** The `identity.issuers` YAML block and the Cedar block of one `## ` section of the page. */
function sectionOf(markdown: string, heading: string): DocSection {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`${DOC} has no section "${heading}"`);
  const end = markdown.indexOf("\n## ", start + 1);
  const body = markdown.slice(start, end < 0 ? undefined : end);
  const fences = [...body.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], text: m[2]! }));
  const identityBlocks = fences
    .filter((fence) => fence.lang === "yaml")
    .map((fence) => parseYaml(fence.text) as Record<string, unknown> | null)
    .filter((doc) => doc !== null && typeof doc === "object" && "identity" in doc);
  const cedar = fences.filter((fence) => fence.lang === "cedar");
  if (identityBlocks.length !== 1 || cedar.length !== 1) {
    throw new Error(`${DOC} "${heading}": expected one identity block and one cedar block`);
  }
  const issuers = (identityBlocks[0] as { identity: { issuers: Record<string, unknown>[] } }).identity
    .issuers;
  if (issuers.length !== 1) throw new Error(`${DOC} "${heading}": expected one issuer`);
  return { issuerBlock: issuers[0]!, policy: cedar[0]!.text };
}

let provider: TestOidcProvider;
let dataDir: string;
let markdown: string;

beforeAll(async () => {
  provider = await startOidcProvider();
  dataDir = await mkdtemp(path.join(tmpdir(), "latch-ci-shapes-"));
  markdown = await readFile(DOC, "utf8");
});

afterAll(async () => {
  await provider?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The page's block as it is, with only the issuer (and a configured jwks_uri) moved to the test provider. */
function verifierFor(block: Record<string, unknown>) {
  const moved = {
    ...block,
    issuer: provider.issuer,
    ...(block.jwks_uri === undefined ? {} : { jwks_uri: provider.jwksUri }),
  };
  const config = configSchema.parse({ identity: { issuers: [moved] } });
  return createTokenVerifier(config.identity, { dataDir });
}

const readOrders = statement([onTable("sql:select", "public.orders")], { verb: "sql:select" });
const deleteOrders = statement([onTable("sql:delete", "public.orders")], {
  verb: "sql:delete",
  readOnly: false,
});
const uptime = statement([onConnection("ssh:exec")], { verb: "ssh:exec", command: "uptime", text: "uptime" });
const reboot = statement([onConnection("ssh:exec")], { verb: "ssh:exec", command: "reboot", text: "reboot" });

function expectAllowed(engine: PolicyEngine, who: Identity): void {
  expect(engine.authorize(request(who, "analytics", [readOrders])).decision).toBe("allow");
  expect(engine.authorize(request(who, "web-1", [uptime])).decision).toBe("allow");
  // sql:read only, and only the one command over SSH
  expect(engine.authorize(request(who, "analytics", [deleteOrders])).decision).toBe("deny");
  expect(engine.authorize(request(who, "web-1", [reboot])).decision).toBe("deny");
  expect(engine.authorize(request(who, "prod", [readOrders])).decision).toBe("deny");
}

function expectDenied(engine: PolicyEngine, who: Identity): void {
  expect(engine.authorize(request(who, "analytics", [readOrders])).decision).toBe("deny");
  expect(engine.authorize(request(who, "web-1", [uptime])).decision).toBe("deny");
}

/** Claims of a GitHub Actions OIDC token (docs.github.com, "About security hardening with OpenID Connect"). */
function githubClaims(owner: string, repo: string) {
  const sub = `repo:${owner}/${repo}:ref:refs/heads/main`;
  return {
    sub,
    claims: {
      ref: "refs/heads/main",
      ref_type: "branch",
      repository: `${owner}/${repo}`,
      repository_id: "74",
      repository_owner: owner,
      repository_owner_id: "65",
      repository_visibility: "private",
      run_id: "5",
      run_number: "1",
      run_attempt: "1",
      actor: "octocat",
      actor_id: "12",
      workflow: "nightly-report",
      event_name: "schedule",
      job_workflow_ref: `${owner}/${repo}/.github/workflows/nightly-report.yml@refs/heads/main`,
      runner_environment: "github-hosted",
    },
  };
}

/** Claims of a GitLab CI ID token (docs.gitlab.com, "OpenID Connect (OIDC) Authentication Using ID Tokens"). */
function gitlabClaims(namespace: string, project: string) {
  const sub = `project_path:${namespace}/${project}:ref_type:branch:ref:main`;
  return {
    sub,
    claims: {
      namespace_id: "72",
      namespace_path: namespace,
      project_id: "20",
      project_path: `${namespace}/${project}`,
      user_id: "1",
      user_login: "sample-user",
      pipeline_id: "574",
      pipeline_source: "schedule",
      job_id: "302",
      ref: "main",
      ref_type: "branch",
      ref_path: "refs/heads/main",
      ref_protected: "true",
      runner_id: 1,
      runner_environment: "gitlab-hosted",
    },
  };
}

/** Claims of a projected service account token (kubernetes.io, "Service account token volume projection"). */
function kubernetesClaims(namespace: string, serviceAccount: string) {
  return {
    sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
    claims: {
      "kubernetes.io": {
        namespace,
        pod: { name: `${serviceAccount}-x7k2p`, uid: "a3e6b5c2-2f0e-4a4d-9d55-2d3c8c1e0f11" },
        serviceaccount: { name: serviceAccount, uid: "4b1d6d6e-8a3c-4f3a-b1a0-6f1e1e2a9c77" },
      },
    },
  };
}

async function mint(shape: { sub: string; claims: Record<string, unknown> }): Promise<string> {
  return provider.mintTokenWithClaims(shape.sub, shape.claims);
}

describe("GitHub Actions token (docs/quickstart-ci.md)", () => {
  let section: DocSection;
  beforeAll(() => {
    section = sectionOf(markdown, "GitHub Actions");
  });

  it("the page's block names GitHub's issuer, audience latch and a prefix for its groups", () => {
    expect(section.issuerBlock).toMatchObject({
      issuer: "https://token.actions.githubusercontent.com",
      audience: "latch",
      groups_claim: "repository_owner",
      group_prefix: "github:",
    });
  });

  it("a workflow of octo-org gets its principal and the group github:octo-org, and the policy allows sql:read", async () => {
    const token = await mint(githubClaims("octo-org", "reports"));
    expect(decodeJwt(token)).toMatchObject({
      aud: "latch",
      sub: "repo:octo-org/reports:ref:refs/heads/main",
      repository_owner: "octo-org",
      repository: "octo-org/reports",
      ref: "refs/heads/main",
    });
    const who = await verifierFor(section.issuerBlock).verify(token);
    expect(who.subject).toBe("github:repo:octo-org/reports:ref:refs/heads/main");
    expect(who.groups).toEqual(["github:octo-org"]);
    expectAllowed(engineFor(section.policy), who);
  });

  it("a workflow of another organisation does not get the group", async () => {
    const who = await verifierFor(section.issuerBlock).verify(
      await mint(githubClaims("evil-org", "reports")),
    );
    expect(who.groups).toEqual(["github:evil-org"]);
    expectDenied(engineFor(section.policy), who);
  });

  it("an organisation named like a company group stays in the github: namespace", async () => {
    const who = await verifierFor(section.issuerBlock).verify(
      await mint(githubClaims("platform-admins", "x")),
    );
    expect(who.groups).toEqual(["github:platform-admins"]);
  });
});

describe("GitLab CI ID token (docs/quickstart-ci.md)", () => {
  let section: DocSection;
  beforeAll(() => {
    section = sectionOf(markdown, "GitLab CI");
  });

  it("the page's block names gitlab.com, audience latch and a prefix for its groups", () => {
    expect(section.issuerBlock).toMatchObject({
      issuer: "https://gitlab.com",
      audience: "latch",
      groups_claim: "namespace_path",
      group_prefix: "gitlab:",
    });
  });

  it("a pipeline of data-team gets its principal and the group gitlab:data-team, and the policy allows sql:read", async () => {
    const token = await mint(gitlabClaims("data-team", "reports"));
    expect(decodeJwt(token)).toMatchObject({
      aud: "latch",
      sub: "project_path:data-team/reports:ref_type:branch:ref:main",
      namespace_path: "data-team",
      project_path: "data-team/reports",
    });
    const who = await verifierFor(section.issuerBlock).verify(token);
    expect(who.subject).toBe("gitlab:project_path:data-team/reports:ref_type:branch:ref:main");
    expect(who.groups).toEqual(["gitlab:data-team"]);
    expectAllowed(engineFor(section.policy), who);
  });

  it("a pipeline of another group, or of a subgroup, does not get the group", async () => {
    const verifier = verifierFor(section.issuerBlock);
    const engine = engineFor(section.policy);
    const other = await verifier.verify(await mint(gitlabClaims("someone-else", "reports")));
    expect(other.groups).toEqual(["gitlab:someone-else"]);
    expectDenied(engine, other);
    const subgroup = await verifier.verify(await mint(gitlabClaims("data-team/interns", "scratch")));
    expect(subgroup.groups).toEqual(["gitlab:data-team/interns"]);
    expectDenied(engine, subgroup);
  });
});

describe("Kubernetes projected service account token (docs/quickstart-ci.md)", () => {
  let section: DocSection;
  beforeAll(() => {
    section = sectionOf(markdown, "Kubernetes Job");
  });

  it("the page's block names a cluster issuer, its JWKS, audience latch and prefixes", () => {
    expect(section.issuerBlock).toMatchObject({
      issuer: "https://kubernetes.default.svc.cluster.local",
      jwks_uri: "https://kubernetes.default.svc.cluster.local/openid/v1/jwks",
      audience: "latch",
      subject_prefix: "k8s:",
      group_prefix: "k8s:",
    });
  });

  it("the reports/nightly-report service account gets its principal, and the policy allows sql:read", async () => {
    const token = await mint(kubernetesClaims("reports", "nightly-report"));
    expect(decodeJwt(token)).toMatchObject({
      aud: "latch",
      sub: "system:serviceaccount:reports:nightly-report",
      "kubernetes.io": { namespace: "reports", serviceaccount: { name: "nightly-report" } },
    });
    const who = await verifierFor(section.issuerBlock).verify(token);
    expect(who.subject).toBe("k8s:system:serviceaccount:reports:nightly-report");
    expect(who.groups).toEqual([]);
    expectAllowed(engineFor(section.policy), who);
  });

  it("a service account of the same name in another namespace is another principal and is refused", async () => {
    const who = await verifierFor(section.issuerBlock).verify(
      await mint(kubernetesClaims("sandbox", "nightly-report")),
    );
    expect(who.subject).toBe("k8s:system:serviceaccount:sandbox:nightly-report");
    expectDenied(engineFor(section.policy), who);
  });

  // The page's namespace-wide variant: a nested claim under a name that contains a dot (`kubernetes.io`).
  it("groups_claim kubernetes.io.namespace yields the namespace as a group", async () => {
    const verifier = verifierFor({ ...section.issuerBlock, groups_claim: "kubernetes.io.namespace" });
    const who = await verifier.verify(await mint(kubernetesClaims("reports", "nightly-report")));
    expect(who.groups).toEqual(["k8s:reports"]);
  });
});
