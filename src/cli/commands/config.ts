import type { Command } from "commander";
import { z } from "zod";
import { loadConfig } from "../../config/load-config.js";
import { configSchema } from "../../config/schema.js";

export function registerConfigCommands(program: Command): void {
  const config = program.command("config").description("inspect and validate gateway configuration");
  config
    .command("schema")
    .description("print the JSON Schema of latch.yaml (for editor completion and CI validation)")
    .action(() => {
      const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" });
      process.stdout.write(
        `${JSON.stringify({ ...schema, title: "Latch gateway configuration" }, null, 2)}\n`,
      );
    });
  config
    .command("check")
    .description("validate a config file and print the effective configuration")
    .option("-c, --config <file>", "config file (default: ./latch.yaml)")
    .action((options: { config?: string }) => {
      const loaded = loadConfig(options.config);
      process.stdout.write(`config OK (${loaded.file ?? "embedded defaults"})\n`);
      process.stdout.write(`${JSON.stringify(loaded.config, null, 2)}\n`);
    });
}
