import type { LatchConfig } from "../../config/schema.js";
import { DEV_ISSUER } from "../../identity/dev-issuer.js";
import { DEFAULT_HTTP_LISTEN, httpListenAddress } from "../http-listen-address.js";

export const METADATA_PATH = "/.well-known/oauth-protected-resource";
export const MCP_PATH = "/mcp";

/** This endpoint's resource identifier (RFC 8707 / RFC 9728 `resource`). */
export function resourceUrl(config: LatchConfig): string {
  return config.mcp.resource ?? `https://${httpListenAddress(config) ?? DEFAULT_HTTP_LISTEN}${MCP_PATH}`;
}

/** Where the metadata of `resource` lives: the well-known path with the resource's path appended (RFC 9728 3.1). */
export function metadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === "/" ? "" : url.pathname;
  return `${url.origin}${METADATA_PATH}${path}`;
}

/** RFC 9728 protected resource metadata: the issuers whose tokens this endpoint accepts. */
export function protectedResourceMetadata(config: LatchConfig): Record<string, unknown> {
  const issuers = config.identity.issuers.map((issuer) => issuer.issuer);
  if (config.identity.dev_issuer) issuers.push(DEV_ISSUER);
  return {
    resource: resourceUrl(config),
    authorization_servers: issuers,
    bearer_methods_supported: ["header"],
    resource_name: "Latch MCP gateway",
  };
}

/** The challenge of a 401 (RFC 6750 3 with RFC 9728 5.1): where to learn which issuer to ask. */
export function bearerChallenge(config: LatchConfig, error?: { code: string; description: string }): string {
  const parts = [`resource_metadata="${metadataUrl(resourceUrl(config))}"`];
  if (error !== undefined)
    parts.push(`error="${error.code}"`, `error_description="${error.description.replace(/["\\]/g, "'")}"`);
  return `Bearer ${parts.join(", ")}`;
}
