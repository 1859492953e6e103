import { type Logger, pino } from "pino";

/**
 * JSON logs on stderr (stdout stays free for command output). Secrets are redacted by key, as a last line.
 * `fields` go on every line (with several workers: which worker, its pid).
 */
export function createLogger(level: string, fields: Record<string, string | number> = {}): Logger {
  return pino(
    {
      level,
      base: { service: "latch", ...fields },
      redact: {
        paths: [
          "password",
          "token",
          "*.password",
          "*.token",
          "headers.authorization",
          "req.headers.authorization",
        ],
        censor: "[redacted]",
      },
      serializers: { err: pino.stdSerializers.err },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
