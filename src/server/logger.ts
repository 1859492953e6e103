import { type Logger, pino } from "pino";

/** JSON logs on stderr (stdout stays free for command output). Secrets are redacted by key, as a last line. */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: "latch" },
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
