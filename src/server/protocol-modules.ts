import { httpModule } from "../protocols/http/module.js";
import { mcpModule } from "../protocols/mcp/module.js";
import { mysqlModule } from "../protocols/mysql/module.js";
import { postgresModule } from "../protocols/postgres/module.js";
import type { ProtocolModule } from "../protocols/protocol-module.js";
import { sshModule } from "../protocols/ssh/module.js";

/** Every protocol the gateway speaks. Adding one: docs/architecture.md, "Adding a protocol". */
export const PROTOCOL_MODULES: readonly ProtocolModule[] = [
  postgresModule,
  sshModule,
  httpModule,
  mysqlModule,
  mcpModule,
];
