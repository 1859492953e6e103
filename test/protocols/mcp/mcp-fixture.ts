import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { type GatewayFixture, startGatewayFixture } from "../../e2e/pg-fixture.js";
import { type McpEndpoint, serveMcpEndpoint } from "../../support/mcp-endpoint.js";
import { startOidcProvider, type TestOidcProvider } from "../../support/oidc-provider.js";

export const MCP_POLICY = `
@id("agents-read")
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
@id("readers-read")
permit(principal in Group::"readers", action in Action::"sql:read", resource in Connection::"app");
@id("no-secrets")
forbid(principal, action, resource == Table::"app/public.secrets");
@id("item-writes-need-a-dba")
@approval("dba")
permit(principal in Group::"agents", action in Action::"sql:write", resource == Table::"app/public.items");
`;

export interface McpFixture {
  readonly fx: GatewayFixture;
  readonly oidc: TestOidcProvider;
  readonly mcp: McpEndpoint;
  /** The admin API with a dev token (approvers, administrators). */
  api(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: ApiBody }>;
  stop(): Promise<void>;
}

/**
 * A gateway with the MCP endpoint on a real socket, a real OIDC provider for agents' tokens (the dev issuer
 * for approvers and admins), a real PostgreSQL with a masked `people` table, approvals on.
 */
export async function startMcpFixture(): Promise<McpFixture> {
  const oidc = await startOidcProvider();
  const fx = await startGatewayFixture({
    policy: MCP_POLICY,
    masking: ["pii"],
    overrides: {
      listen: { postgres: "127.0.0.1:0", admin: "127.0.0.1:0", http: "127.0.0.1:0" },
      identity: { dev_issuer: true, issuers: [{ issuer: oidc.issuer, audience: "latch" }] },
      masking: { pii: { detectors: ["email"], columns: ["public.people.ssn"] } },
      approvals: { timeout: "30s", mode: "hold", console_url: "https://latch.example" },
      mcp: { max_rows: 5 },
    },
  });
  await fx.direct(`
    SET ROLE ${fx.cluster.appUser};
    CREATE TABLE public.people (id int PRIMARY KEY, name text, ssn text, contact text);
    INSERT INTO public.people VALUES (1, 'Ada', '123-45-6789', 'ada@example.com'), (2, 'Bob', '987-65-4321', 'phone');
    RESET ROLE;
  `);
  const mcp = await serveMcpEndpoint(fx.gw.gateway);
  return {
    fx,
    oidc,
    mcp,
    async api(method, path, token, body) {
      const response = await fetch(`${fx.gw.adminUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as ApiBody };
    },
    async stop() {
      await mcp.close();
      await fx.stop();
      await oidc.close();
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: tests read tool results and API bodies field by field
type Loose = Record<string, any>;
type ApiBody = Loose;
export type ToolAnswer = { structuredContent?: Loose; isError?: boolean; content: unknown[] };

export async function call(client: Client, name: string, args: Record<string, unknown>): Promise<ToolAnswer> {
  return (await client.callTool({ name, arguments: args })) as ToolAnswer;
}
