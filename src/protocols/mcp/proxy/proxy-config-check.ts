import type { LatchConfig } from "../../../config/schema.js";
import { resolveSecret } from "../../../config/secrets.js";
import { LatchError } from "../../../errors.js";
import { compileMaskingProfiles } from "../../../masking/masking-profile.js";
import { httpListenAddress } from "../../http-listen-address.js";

/**
 * What `latch serve` and `latch config check` refuse about `type: mcp` connections beyond the schema: no
 * endpoint to serve them on, a masking profile that does not compile, a secret that does not resolve.
 * Returns the address of the endpoint that serves them.
 */
export function checkMcpProxyConfig(config: LatchConfig): string {
  const address = httpListenAddress(config);
  const names = Object.entries(config.connections).filter(([, c]) => c.type === "mcp");
  if (address === undefined && names.length > 0)
    throw new LatchError("config_invalid", {
      detail: `connection ${names[0]![0]} (type mcp) is offered at /mcp on the HTTP listener: set listen.http`,
    });
  for (const [name, connection] of names) {
    if (connection.type !== "mcp") continue;
    compileMaskingProfiles(connection.masking, config.masking);
    const purpose = `connection ${name}`;
    if (connection.inject?.header !== undefined) resolveSecret(connection.inject.header.value, purpose);
    if (connection.inject?.oauth !== undefined) resolveSecret(connection.inject.oauth.client_secret, purpose);
    for (const [key, value] of Object.entries(connection.env))
      if (typeof value !== "string") resolveSecret(value, `${purpose} env ${key}`);
  }
  return address ?? "127.0.0.1:0";
}
