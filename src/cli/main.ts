#!/usr/bin/env node
import { isLatchError } from "../errors.js";
import { buildProgram } from "./program.js";

// `latch ... | head` closes the pipe early: that is the reader's choice, not an error to crash on.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const program = buildProgram();

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = isLatchError(error)
    ? error.message
    : error instanceof Error
      ? error.message
      : String(error);
  process.stderr.write(`latch: ${message}\n`);
  process.exitCode = 1;
  // A failed command is over even if a socket it opened is still waiting (a store login that failed mid-SCRAM
  // kept `latch serve` alive for the server's authentication_timeout): exit once stderr is written.
  setTimeout(() => process.exit(1), 500).unref();
});
