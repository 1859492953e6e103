import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import { describe, expect, it } from "vitest";
import { buildContext, statementContextOf, timeContextOf } from "../../src/policy/build-context.js";
import { CEDAR_SCHEMA_TEXT } from "../../src/policy/cedar-schema.js";
import { ACTIONS } from "../../src/policy/policy-actions.js";
import {
  engineFor,
  identity,
  onConnection,
  onFunction,
  onTable,
  request,
  statement,
  TUESDAY_MORNING,
} from "./policy-test-helpers.js";

const ciBot = identity("ci-bot", ["agents"]);
const selectUsers = statement([onTable("sql:select", "public.users")]);
const deleteUsers = statement([onTable("sql:delete", "public.users")], { readOnly: false });

describe("Cedar policy engine", () => {
  it("denies by default and says so in plain English", () => {
    const engine = engineFor(
      `permit(principal in Group::"agents", action, resource in Connection::"other");`,
    );
    const verdict = engine.authorize(request(ciBot, "analytics", [deleteUsers]));
    expect(verdict).toEqual({
      decision: "deny",
      rules: [],
      reason:
        "sql:delete on table public.users is not permitted for ci-bot (groups: agents) on connection analytics (no permit matched; deny by default)",
    });
  });

  it("denies everything with an empty policy set", () => {
    const engine = engineFor("");
    expect(engine.policyCount).toBe(0);
    expect(engine.authorize(request(ciBot, "demo", [selectUsers])).decision).toBe("deny");
  });

  it("allows what a permit matches and names the permit", () => {
    const engine = engineFor(
      `@id("read-demo") permit(principal, action == Action::"sql:select", resource in Connection::"demo");`,
    );
    expect(engine.authorize(request(ciBot, "demo", [selectUsers]))).toEqual({
      decision: "allow",
      rules: ["read-demo"],
      reason: "allowed by policy read-demo",
    });
    expect(engine.authorize(request(ciBot, "prod", [selectUsers])).decision).toBe("deny");
    expect(engine.authorize(request(ciBot, "demo", [deleteUsers])).decision).toBe("deny");
  });

  it("lets a forbid beat a permit", () => {
    const engine = engineFor(`
      permit(principal, action, resource);
      forbid(principal, action == Action::"sql:delete", resource);
    `);
    expect(engine.authorize(request(ciBot, "demo", [selectUsers])).decision).toBe("allow");
    const verdict = engine.authorize(request(ciBot, "demo", [deleteUsers]));
    expect(verdict.decision).toBe("deny");
    expect(verdict.rules).toEqual(["test.cedar:1"]);
    expect(verdict.reason).toBe(
      "sql:delete on table public.users is forbidden for ci-bot (groups: agents) on connection demo by policy test.cedar:1",
    );
  });

  it("matches principals through their groups", () => {
    const engine = engineFor(`permit(principal in Group::"agents", action, resource);`);
    expect(engine.authorize(request(identity("a", ["agents"]), "demo", [selectUsers])).decision).toBe(
      "allow",
    );
    expect(
      engine.authorize(request(identity("b", ["readers", "agents"]), "demo", [selectUsers])).decision,
    ).toBe("allow");
    const outsider = engine.authorize(request(identity("c", ["readers"]), "demo", [selectUsers]));
    expect(outsider.decision).toBe("deny");
    expect(outsider.reason).toContain("for c (groups: readers)");
    expect(engine.authorize(request(identity("d"), "demo", [selectUsers])).reason).toContain(
      "for d (no groups)",
    );
    // A user whose subject equals a group name is not a member of it.
    expect(engine.authorize(request(identity("agents"), "demo", [selectUsers])).decision).toBe("deny");
  });

  it("matches principal == User and the issuer attribute", () => {
    const engine = engineFor(
      `permit(principal == User::"ci-bot", action, resource) when { principal.issuer == "https://issuer.test" };`,
    );
    expect(engine.authorize(request(ciBot, "demo", [selectUsers])).decision).toBe("allow");
    const otherIssuer = { ...ciBot, issuer: "https://elsewhere.test" };
    expect(engine.authorize(request(otherIssuer, "demo", [selectUsers])).decision).toBe("deny");
  });

  it("expands action groups: every member of sql:read, sql:write and sql:admin", () => {
    const engine = engineFor(`
      permit(principal, action in Action::"sql:read", resource);
      permit(principal in Group::"writers", action in Action::"sql:write", resource);
      permit(principal in Group::"admins", action in Action::"sql:admin", resource);
    `);
    for (const [action, spec] of Object.entries(ACTIONS)) {
      const stmt = statement([onTable(action, "public.t")]);
      const reader = engine.authorize(request(identity("r"), "demo", [stmt])).decision;
      const writer = engine.authorize(request(identity("w", ["writers"]), "demo", [stmt])).decision;
      const admin = engine.authorize(request(identity("a", ["admins"]), "demo", [stmt])).decision;
      expect([action, reader]).toEqual([action, spec.group === "sql:read" ? "allow" : "deny"]);
      expect([action, writer]).toEqual([
        action,
        ["sql:read", "sql:write"].includes(spec.group ?? "") ? "allow" : "deny",
      ]);
      expect([action, admin]).toEqual([
        action,
        ["sql:read", "sql:admin"].includes(spec.group ?? "") ? "allow" : "deny",
      ]);
    }
  });

  it("forbids one table by resource == and leaves its neighbours alone", () => {
    const engine = engineFor(`
      permit(principal, action, resource in Connection::"prod");
      forbid(principal, action, resource == Table::"prod/public.payments");
    `);
    const payments = statement([onTable("sql:select", "public.payments")]);
    expect(engine.authorize(request(ciBot, "prod", [payments])).decision).toBe("deny");
    expect(engine.authorize(request(ciBot, "prod", [selectUsers])).decision).toBe("allow");
    // Same table name on another connection is another resource.
    const elsewhere = engineFor(`
      permit(principal, action, resource);
      forbid(principal, action, resource == Table::"prod/public.payments");
    `);
    expect(elsewhere.authorize(request(ciBot, "demo", [payments])).decision).toBe("allow");
  });

  it("puts functions under their connection", () => {
    const engine = engineFor(`
      permit(principal, action == Action::"sql:select", resource);
      permit(principal, action == Action::"sql:function", resource in Connection::"demo")
        unless { resource == Function::"demo/public.dangerous" };
    `);
    const call = (name: string) =>
      statement([onConnection("sql:select"), onFunction("sql:function", name)], { functions: [name] });
    expect(engine.authorize(request(ciBot, "demo", [call("public.my_udf")])).decision).toBe("allow");
    const denied = engine.authorize(request(ciBot, "demo", [call("public.dangerous")]));
    expect(denied.decision).toBe("deny");
    expect(denied.reason).toContain("sql:function on function public.dangerous is not permitted");
    expect(engine.authorize(request(ciBot, "other", [call("public.my_udf")])).decision).toBe("deny");
  });

  it("holds for approval when only @approval permits match, with the quorum", () => {
    const engine = engineFor(`
      @id("read") permit(principal, action == Action::"sql:select", resource);
      @id("write-needs-dba") @approval("dba") @quorum("2")
      permit(principal in Group::"agents", action in Action::"sql:write", resource);
    `);
    const verdict = engine.authorize(request(ciBot, "prod", [deleteUsers]));
    expect(verdict).toEqual({
      decision: "approval",
      rules: ["write-needs-dba"],
      reason:
        "sql:delete on table public.users on connection prod needs approval by 2 members of group dba (policy write-needs-dba)",
      approval: { group: "dba", quorum: 2 },
    });
    // Reads in the same message need no approval, but the message as a whole still waits.
    const mixed = engine.authorize(request(ciBot, "prod", [selectUsers, deleteUsers]));
    expect(mixed.decision).toBe("approval");
    expect(mixed.approval).toEqual({ group: "dba", quorum: 2 });
    expect(engine.authorize(request(ciBot, "prod", [selectUsers])).decision).toBe("allow");
  });

  it("allows outright when a plain permit matches besides an @approval one", () => {
    const engine = engineFor(`
      @approval("dba") permit(principal, action, resource);
      @id("dbas-direct") permit(principal in Group::"dba", action, resource);
    `);
    const dba = engine.authorize(request(identity("alice", ["dba"]), "prod", [deleteUsers]));
    expect(dba).toMatchObject({ decision: "allow", rules: ["dbas-direct"] });
    expect(engine.authorize(request(ciBot, "prod", [deleteUsers]))).toMatchObject({
      decision: "approval",
      approval: { group: "dba", quorum: 1 },
    });
  });

  it("denies approval when a forbid also matches", () => {
    const engine = engineFor(`
      @approval("dba") permit(principal, action, resource);
      forbid(principal, action, resource == Table::"prod/public.users");
    `);
    expect(engine.authorize(request(ciBot, "prod", [deleteUsers])).decision).toBe("deny");
  });

  it("combines approvals across accesses into one group with the largest quorum", () => {
    const engine = engineFor(`
      @approval("dba") permit(principal, action == Action::"sql:delete", resource);
      @approval("dba") @quorum("3") permit(principal, action == Action::"sql:insert", resource);
      @approval("security") permit(principal, action == Action::"sql:update", resource);
    `);
    const insert = statement([onTable("sql:insert", "public.audit")], { readOnly: false });
    const update = statement([onTable("sql:update", "public.users")], { readOnly: false });
    const both = engine.authorize(request(ciBot, "prod", [deleteUsers, insert]));
    expect(both).toMatchObject({ decision: "approval", approval: { group: "dba", quorum: 3 } });
    expect(both.rules).toEqual(["test.cedar:0", "test.cedar:1"]);
    expect(both.reason).toContain("(and 1 more access)");
    // dba and security approvals cannot travel in one request: refuse rather than let one group approve both.
    const split = engine.authorize(request(ciBot, "prod", [deleteUsers, update]));
    expect(split.decision).toBe("deny");
    expect(split.reason).toContain("needs approvals from different groups");
    expect(split.reason).toContain("sql:update on table public.users needs security");
  });

  it("evaluates time-of-day and weekday conditions in UTC at the request's now", () => {
    const engine = engineFor(`
      permit(principal, action, resource)
      when { context.time.weekday <= 5 && context.time.hour >= 9 && context.time.hour < 18 };
    `);
    const at = (iso: string) =>
      engine.authorize(request(ciBot, "demo", [selectUsers], { now: new Date(iso) })).decision;
    expect(at("2025-01-07T10:30:00Z")).toBe("allow"); // Tuesday
    expect(at("2025-01-07T08:59:59Z")).toBe("deny");
    expect(at("2025-01-07T18:00:00Z")).toBe("deny");
    expect(at("2025-01-10T17:59:00Z")).toBe("allow"); // Friday
    expect(at("2025-01-11T10:30:00Z")).toBe("deny"); // Saturday
    expect(at("2025-01-12T10:30:00Z")).toBe("deny"); // Sunday is 7, not 0
    expect(at("2025-01-07T10:30:00+09:00")).toBe("deny"); // 01:30 UTC
  });

  it("evaluates date and minute conditions", () => {
    const engine = engineFor(`
      permit(principal, action, resource)
      when { context.time.date == "2025-01-07" && context.time.minute < 30 };
    `);
    const at = (iso: string) =>
      engine.authorize(request(ciBot, "demo", [selectUsers], { now: new Date(iso) })).decision;
    expect(at("2025-01-07T10:29:59Z")).toBe("allow");
    expect(at("2025-01-07T10:30:00Z")).toBe("deny");
    expect(at("2025-01-08T10:00:00Z")).toBe("deny");
    // Cached across calls, the minute and date still count.
    expect(at("2025-01-07T10:29:00Z")).toBe("allow");
  });

  it("evaluates connection label conditions on the context and on the Connection", () => {
    const engine = engineFor(`
      permit(principal, action, resource) when { context.connection_labels.contains("env=dev") };
      forbid(principal, action in Action::"sql:write", resource in Connection::"shared")
        when { resource in Connection::"shared" && context.connection_labels.contains("tier=gold") };
      forbid(principal, action, resource) when { context.connection_labels.containsAny(["quarantine=yes"]) };
    `);
    const labelled = (connection: string, connectionLabels: Record<string, string>, stmt = selectUsers) =>
      engine.authorize(request(ciBot, connection, [stmt], { connectionLabels })).decision;
    expect(labelled("demo", { env: "dev" })).toBe("allow");
    expect(labelled("demo", { env: "prod" })).toBe("deny");
    expect(labelled("demo", {})).toBe("deny");
    expect(labelled("shared", { env: "dev", tier: "gold" }, deleteUsers)).toBe("deny");
    expect(labelled("shared", { env: "dev", tier: "gold" })).toBe("allow");
    expect(labelled("demo", { env: "dev", quarantine: "yes" })).toBe("deny");
  });

  it("exposes labels as an attribute of the Connection entity", () => {
    const engine = engineFor(`
      permit(principal, action, resource is Connection) when { resource.labels.contains("env=dev") };
    `);
    const begin = statement([onConnection("sql:session")]);
    expect(
      engine.authorize(request(ciBot, "demo", [begin], { connectionLabels: { env: "dev" } })).decision,
    ).toBe("allow");
    expect(
      engine.authorize(request(ciBot, "demo", [begin], { connectionLabels: { env: "qa" } })).decision,
    ).toBe("deny");
  });

  it("evaluates client IP ranges, with IPv4-mapped IPv6 addresses seen as IPv4", () => {
    const engine = engineFor(`
      permit(principal, action, resource) when { context.client_ip.isInRange(ip("10.0.0.0/8")) };
    `);
    const from = (clientAddress: string) =>
      engine.authorize(request(ciBot, "demo", [selectUsers], { clientAddress })).decision;
    expect(from("10.1.2.3")).toBe("allow");
    expect(from("::ffff:10.1.2.3")).toBe("allow");
    expect(from("192.168.1.1")).toBe("deny");
    expect(from("/var/run/latch.sock")).toBe("deny");
    // What the fronts record: host:port as Node reports the peer (PostgreSQL, MySQL, SSH, HTTP, MCP).
    expect(from("10.1.2.3:50000")).toBe("allow");
    expect(from("::ffff:10.1.2.3:50000")).toBe("allow");
    expect(from("192.168.1.1:50000")).toBe("deny");
    expect(from("[::ffff:10.1.2.3]:5432")).toBe("allow");
    expect(from("?:0")).toBe("deny");
  });

  it("reads the IPv6 client address a front records, port and zone apart", () => {
    const engine = engineFor(`
      permit(principal, action, resource) when { context.client_ip.isInRange(ip("fd00::/8")) };
    `);
    const from = (clientAddress: string) =>
      engine.authorize(request(ciBot, "demo", [selectUsers], { clientAddress })).decision;
    expect(from("fd12::1:50000")).toBe("allow");
    expect(from("fd12::1%eth0:50000")).toBe("allow");
    expect(from("[fd12::1]:50000")).toBe("allow");
    expect(from("fd12::1")).toBe("allow");
    expect(from("fe80::1:50000")).toBe("deny");
  });

  it("uses statement facts: has_where, read_only, statement_count, table_count, verb", () => {
    const engine = engineFor(`
      permit(principal, action == Action::"sql:select", resource);
      permit(principal, action == Action::"sql:delete", resource)
        when { context.statement.has_where && context.statement.statement_count == 1 };
      forbid(principal, action, resource) when { context.statement.table_count > 2 };
    `);
    expect(engine.authorize(request(ciBot, "demo", [deleteUsers])).decision).toBe("allow");
    const unbounded = statement([onTable("sql:delete", "public.users")], {
      hasWhere: false,
      readOnly: false,
    });
    expect(engine.authorize(request(ciBot, "demo", [unbounded])).decision).toBe("deny");
    expect(engine.authorize(request(ciBot, "demo", [selectUsers, deleteUsers])).decision).toBe("deny");
    const wide = statement(["a", "b", "c"].map((t) => onTable("sql:select", `public.${t}`)));
    expect(engine.authorize(request(ciBot, "demo", [wide])).decision).toBe("deny");
  });

  it("refuses a whole multi-statement message when one access is denied", () => {
    const engine = engineFor(`
      permit(principal, action, resource);
      forbid(principal, action, resource == Table::"demo/public.payments");
    `);
    const payments = statement([onTable("sql:select", "public.payments")]);
    const verdict = engine.authorize(request(ciBot, "demo", [selectUsers, payments, selectUsers]));
    expect(verdict.decision).toBe("deny");
    expect(verdict.reason).toBe(
      "sql:select on table public.payments is forbidden for ci-bot (groups: agents) on connection demo by policy test.cedar:1; in statement 2 of 3, so none of them was run",
    );
    // A write hidden in a CTE is a second access of the same statement.
    const cte = statement([onTable("sql:select", "public.users"), onTable("sql:delete", "public.payments")]);
    expect(engine.authorize(request(ciBot, "demo", [cte])).decision).toBe("deny");
  });

  it("authorizes a statement without accesses as its verb on the connection", () => {
    const engine = engineFor(
      `permit(principal, action == Action::"sql:session", resource == Connection::"demo");`,
    );
    const bare = statement([], { verb: "sql:session" });
    expect(engine.authorize(request(ciBot, "demo", [bare])).decision).toBe("allow");
    expect(engine.authorize(request(ciBot, "demo", [statement([], { verb: "sql:ddl" })])).decision).toBe(
      "deny",
    );
  });

  it("fails closed: no statements, unknown actions and evaluation errors deny with the cause", () => {
    const engine = engineFor(`
      permit(principal, action, resource);
      permit(principal, action == Action::"sql:insert", resource)
        when { context.client_ip.isInRange(ip("10.0.0.0/8")) && 9223372036854775807 + context.statement.table_count > 0 };
    `);
    expect(engine.authorize(request(ciBot, "demo", []))).toMatchObject({ decision: "deny" });
    const unknown = engine.authorize(request(ciBot, "demo", [statement([onConnection("sql:teleport")])]));
    expect(unknown.decision).toBe("deny");
    expect(unknown.reason).toContain('action "sql:teleport" is not in the policy vocabulary');
    // Long overflow is an evaluation error in Cedar; a plain permit matched too, but we refuse anyway.
    const overflow = engine.authorize(
      request(ciBot, "demo", [statement([onTable("sql:insert", "public.t")])], { clientAddress: "10.0.0.1" }),
    );
    expect(overflow.decision).toBe("deny");
    expect(overflow.rules).toEqual(["test.cedar:1"]);
    expect(overflow.reason).toContain("policy evaluation failed");
    expect(overflow.reason).toContain("overflow");
  });

  it("never throws, even on a malformed request", () => {
    const engine = engineFor(`permit(principal, action, resource);`);
    const broken = { ...request(ciBot, "demo", [selectUsers]), now: new Date(Number.NaN) };
    const verdict = engine.authorize(broken);
    expect(verdict.decision).toBe("deny");
    expect(verdict.reason).toContain("policy evaluation failed");
  });

  it("builds a context that Cedar itself validates against the schema", () => {
    for (const action of Object.keys(ACTIONS)) {
      const answer = cedar.isAuthorized({
        principal: { type: "User", id: "ci-bot" },
        action: { type: "Action", id: action },
        resource: { type: "Table", id: "demo/public.users" },
        context: buildContext(
          timeContextOf(TUESDAY_MORNING),
          // context.preview is optional: present here, so both shapes are checked (absent in every other test).
          { ...statementContextOf(selectUsers, 1), preview: { rows: 3 } },
          "10.0.0.1",
          ["env=dev"],
        ),
        schema: CEDAR_SCHEMA_TEXT,
        validateRequest: true,
        policies: { staticPolicies: "permit(principal, action, resource);" },
        entities: [
          {
            uid: { type: "User", id: "ci-bot" },
            attrs: { issuer: "x" },
            parents: [{ type: "Group", id: "agents" }],
          },
          { uid: { type: "Connection", id: "demo" }, attrs: { labels: ["env=dev"] }, parents: [] },
          {
            uid: { type: "Table", id: "demo/public.users" },
            attrs: { sensitivity: "high" },
            parents: [{ type: "Connection", id: "demo" }],
          },
        ],
      });
      expect(answer.type === "success" ? answer.response.decision : answer.errors).toBe("allow");
    }
  });
});
