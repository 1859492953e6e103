/**
 * Masking for one MySQL connection: its profiles compiled at start-up (so a bad profile stops the gateway),
 * with `table.column` entries meaning the connection's own database, and a result masker per session. MySQL
 * column definitions carry their provenance (`<db>.<org_table>.<org_name>`), so no catalog lookups are needed.
 */
import type { LatchConfig, MysqlConnectionConfig } from "../../config/schema.js";
import { type CompiledMaskingProfile, compileMaskingProfiles } from "../../masking/masking-profile.js";
import { createMaskedUseAnalyzer } from "../../sql/mysql/masking-facts.js";
import { createMysqlResultMasker, type MysqlResultMasker } from "./result-masker.js";

export interface MysqlConnectionMasking {
  /** The compiled rules: previews mask their sample with them. */
  readonly profile: CompiledMaskingProfile;
  createMasker(capabilities: number, onFailure: (reason: string) => void): MysqlResultMasker | undefined;
}

export function createMysqlConnectionMasking(
  connection: MysqlConnectionConfig,
  config: LatchConfig,
): MysqlConnectionMasking | undefined {
  if (connection.masking.length === 0) return undefined;
  const database = decodeURIComponent(new URL(connection.upstream).pathname.slice(1));
  const profile: CompiledMaskingProfile = compileMaskingProfiles(
    connection.masking,
    config.masking,
    undefined,
    database.toLowerCase(),
  );
  // One statement-analysis cache per connection, shared by its sessions.
  const analyze = createMaskedUseAnalyzer(profile.columns.keys());
  return {
    profile,
    createMasker: (capabilities, onFailure) =>
      createMysqlResultMasker(profile, capabilities, onFailure, analyze),
  };
}
