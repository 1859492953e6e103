import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { Agent, request } from "undici";
import { logicalEvents } from "../../src/store/logical-events.js";
import type { AuditEvent } from "../../src/store/store.js";
import { type EchoUpstream, startEchoUpstream } from "../support/echo-upstream.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

const run = promisify(execFile);

export const UPSTREAM_SECRET = "s3cr3t-upstream-key-0123456789";
export const SECRET_ENV = "LATCH_TEST_HTTP_SECRET";

export const HTTP_TEST_POLICY = `
@id("agents-read")
permit(principal in Group::"agents", action in Action::"http:read", resource in Connection::"api");
@id("agents-post-small")
permit(principal in Group::"agents", action == Action::"http:POST", resource in Connection::"api")
when { context.body.kind == "json" && !(context.body.keys.contains("admin")) };
@id("no-admin-paths")
forbid(principal, action, resource in Connection::"api") when { context.path like "/echo/admin*" };
@id("tenant-header")
forbid(principal, action, resource in Connection::"api")
when { context.headers.hasTag("x-tenant") && context.headers.getTag("x-tenant") == "other" };
@id("no-dry-run-false")
forbid(principal, action, resource in Connection::"api")
when { context.query.hasTag("force") && context.query.getTag("force") == "true" };
@id("masked-read")
permit(principal in Group::"agents", action in Action::"http:read", resource in Connection::"masked");
@id("capped-read")
permit(principal in Group::"agents", action in Action::"http:read", resource in Connection::"capped");
@approval("approvers")
permit(principal in Group::"agents", action == Action::"http:DELETE", resource in Connection::"api");
`;

export interface HttpTestGateway {
  readonly gw: TestGateway;
  readonly upstream: EchoUpstream;
  readonly base: string;
  readonly caFile: string;
  readonly agent: Agent;
  token(groups?: readonly string[], subject?: string): Promise<string>;
  /** A request through Latch with undici; body as text. */
  send(
    method: string,
    pathAndQuery: string,
    options?: { token?: string; headers?: Record<string, string>; body?: string },
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>;
  curl(args: readonly string[]): Promise<{ stdout: string; stderr: string }>;
  /** Every audit event of one kind (all pages), after the writer flushed. */
  events(kind: string): Promise<AuditEvent[]>;
  stop(): Promise<void>;
}

export async function startHttpTestGateway(
  options: {
    policy?: string;
    approvals?: Record<string, unknown>;
    /** More connections; a function gets the echo upstream's URL. */
    extraConnections?: Record<string, unknown> | ((upstreamUrl: string) => Record<string, unknown>);
  } = {},
): Promise<HttpTestGateway> {
  process.env[SECRET_ENV] = UPSTREAM_SECRET;
  const upstream = await startEchoUpstream();
  const gw = await startTestGateway(undefined, {
    policy: options.policy ?? HTTP_TEST_POLICY,
    overrides: {
      listen: { admin: "127.0.0.1:0", http: "127.0.0.1:0" },
      masking: { pii: { detectors: ["credit_card", "us_ssn", "email"] } },
      ...(options.approvals === undefined ? {} : { approvals: options.approvals }),
      connections: {
        api: {
          type: "http",
          upstream: upstream.url,
          inject: { header: { name: "X-Api-Key", value: { env: SECRET_ENV }, format: "Key {}" } },
          policy_headers: ["x-tenant"],
          body_pointers: ["/amount"],
        },
        masked: {
          type: "http",
          upstream: upstream.url,
          inject: { bearer: { env: SECRET_ENV } },
          masking: ["pii"],
          mask_fields: ["/customers/*/name"],
          unmasked_types: ["image/*"],
        },
        capped: { type: "http", upstream: upstream.url, masking: ["pii"], inspect_limit: 1024 },
        ...(typeof options.extraConnections === "function"
          ? options.extraConnections(upstream.url)
          : options.extraConnections),
      },
    },
  });
  const port = gw.gateway.listeners.get("http")?.port;
  if (port === undefined) throw new Error("no http listener");
  const caFile = path.join(gw.dataDir, "tls", "gateway.crt");
  const agent = new Agent({ connect: { ca: readFileSync(caFile) } });
  const base = `https://127.0.0.1:${port}`;
  const token = (groups: readonly string[] = ["agents"], subject = "agent-1") => gw.token(subject, groups);
  return {
    gw,
    upstream,
    base,
    caFile,
    agent,
    token,
    async send(method, pathAndQuery, sendOptions = {}) {
      const bearer = sendOptions.token ?? (await token());
      const answer = await request(`${base}${pathAndQuery}`, {
        method: method as "GET",
        dispatcher: agent,
        headers: { authorization: `Bearer ${bearer}`, ...sendOptions.headers },
        ...(sendOptions.body === undefined ? {} : { body: sendOptions.body }),
      });
      return { status: answer.statusCode, headers: answer.headers, text: await answer.body.text() };
    },
    async events(kind) {
      await gw.gateway.flushAudit();
      const all: AuditEvent[] = [];
      for (;;) {
        const page = await logicalEvents(gw.gateway.audit, {
          kind: kind as never,
          limit: 1000,
          ...(all.length === 0 ? {} : { afterSeq: all.at(-1)!.seq }),
        });
        all.push(...page);
        if (page.length < 1000) return all;
      }
    },
    curl: (args) => run("curl", ["-sS", "--cacert", caFile, ...args], { maxBuffer: 64 << 20 }),
    async stop() {
      await agent.close();
      await gw.stop();
      await upstream.close();
    },
  };
}
