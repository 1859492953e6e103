import { z } from "zod";

/** Pieces several config sections share (schema.ts and the per-protocol connection schemas). */
export const hostPort = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, "expected host:port, e.g. 127.0.0.1:6432");

export const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, "expected a duration such as 30s, 5m, 1h");

/** Lifetime limits every protocol's connections take (the session layer enforces them). */
export const sessionLimits = {
  max_session: duration.optional().describe("longest a session may stay open, e.g. 8h"),
  idle_timeout: duration.optional().describe("ends a session with no traffic for this long, e.g. 15m"),
};

/**
 * A URL must not carry a password: it would be a literal secret in the config (and in every log or `latch config
 * check` that shows the URL). The message never repeats the value.
 */
export const withoutPassword = (url: string): boolean => {
  try {
    return new URL(url).password === "";
  } catch {
    return true; // the format check reports malformed URLs
  }
};
export const passwordInUrl = (field: string) =>
  `the URL must not contain a password (it would be a literal secret): keep only the user in the URL and put the password in ${field}: { env: VAR_NAME } or { file: /path }`;
