import { logicalEvents } from "../../../src/store/logical-events.js";
import type { AuditEvent } from "../../../src/store/store.js";
import { type EchoUpstream, startEchoUpstream } from "../../support/echo-upstream.js";
import { freePort } from "../../support/free-port.js";
import { type McpEndpoint, serveMcpEndpoint } from "../../support/mcp-endpoint.js";
import { startSshd, type TestSshd } from "../../support/sshd.js";
import { startTestGateway, type TestGateway } from "../../support/test-gateway.js";

export const SECRET_ENV = "LATCH_TEST_MCP_HTTP_SECRET";
export const SECRET = "mcp-upstream-secret-0123456789";
export const POLICY = `
@id("agents-exec")
permit(principal in Group::"agents", action == Action::"ssh:exec", resource in Connection::"web-1")
when { context.command == "uname -s" || context.command like "echo *" };
@id("agents-touch-needs-sre")
@approval("sre")
permit(principal in Group::"agents", action == Action::"ssh:exec", resource in Connection::"web-1")
when { context.command like "touch /tmp/latch-mcp-*" };
@id("agents-http-read")
permit(principal in Group::"agents", action in Action::"http:read", resource in Connection::"api");
@id("agents-http-json-post")
permit(principal in Group::"agents", action == Action::"http:POST", resource in Connection::"api")
when { context.body.kind == "json" };
@id("no-admin-paths")
forbid(principal, action, resource in Connection::"api") when { context.path like "/echo/admin*" };
@id("agents-delete-needs-approvers")
@approval("approvers")
permit(principal in Group::"agents", action == Action::"http:DELETE", resource in Connection::"api");
@id("agents-down")
permit(principal in Group::"agents", action in [Action::"ssh:exec", Action::"http:GET"], resource in Connection::"down");
permit(principal in Group::"agents", action == Action::"http:GET", resource in Connection::"api-down");
@id("readers-read")
permit(principal in Group::"readers", action in Action::"http:read", resource in Connection::"api");
`;

export interface RemoteToolsFixture {
  readonly sshd: TestSshd;
  readonly upstream: EchoUpstream;
  readonly gw: TestGateway;
  readonly mcp: McpEndpoint;
  /** agent-7 of group agents (dev issuer). */
  readonly agentToken: string;
  /** Every audit event of one kind recorded so far (the writer flushed first). */
  events(kind: string): Promise<AuditEvent[]>;
  /** The admin API as `latch requests approve` uses it; the HTTP status. */
  api(method: string, path: string, token: string, body?: unknown): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A gateway with a real OpenSSH sshd behind SSH connections (web-1; down: nothing listens), a real HTTP
 * upstream behind HTTP connections (api with an injected key and masking; api-down), approvals with a console
 * URL, and the MCP endpoint on a real socket for the official SDK client.
 */
export async function startRemoteToolsFixture(): Promise<RemoteToolsFixture> {
  process.env[SECRET_ENV] = SECRET;
  const sshd = await startSshd();
  const upstream = await startEchoUpstream();
  const closedPort = await freePort();
  const gw = await startTestGateway(undefined, {
    policy: POLICY,
    overrides: {
      listen: { admin: "127.0.0.1:0", http: "127.0.0.1:0", ssh: "127.0.0.1:0" },
      approvals: { timeout: "60s", console_url: "https://latch.example" },
      masking: { pii: { detectors: ["email", "credit_card"] } },
      mcp: { max_output_bytes: 4096 },
      connections: {
        "web-1": {
          type: "ssh",
          upstream: `ssh://latch-ssh-test@127.0.0.1:${sshd.port}`,
          private_key: { file: sshd.userKeyFile },
          host_key: sshd.hostKeyLine,
          masking: ["pii"],
        },
        down: {
          type: "ssh",
          upstream: `ssh://latch-ssh-test@127.0.0.1:${closedPort}`,
          private_key: { file: sshd.userKeyFile },
          host_key: sshd.hostKeyLine,
          connect_timeout: "3s",
        },
        "api-down": { type: "http", upstream: `http://127.0.0.1:${closedPort}` },
        api: {
          type: "http",
          upstream: upstream.url,
          inject: { header: { name: "X-Api-Key", value: { env: SECRET_ENV }, format: "Key {}" } },
          masking: ["pii"],
        },
      },
    },
  });
  const mcp = await serveMcpEndpoint(gw.gateway);
  const agentToken = await gw.token("agent-7", ["agents"]);
  return {
    sshd,
    upstream,
    gw,
    mcp,
    agentToken,
    async events(kind) {
      await gw.gateway.flushAudit();
      return logicalEvents(gw.gateway.audit, { kind: kind as never, limit: 1000 });
    },
    async api(method, path, token, body) {
      const response = await fetch(`${gw.adminUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body ?? {}),
      });
      await response.arrayBuffer();
      return response.status;
    },
    async stop() {
      await mcp.close();
      await gw.stop();
      await upstream.close();
      await sshd.stop();
    },
  };
}
