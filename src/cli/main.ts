#!/usr/bin/env node
import { Command } from "commander";

const program = new Command()
  .name("latch")
  .description("Latch: just-in-time access gateway for agents and automation")
  .showHelpAfterError("(run with --help for usage)");

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`latch: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
