import type { StatementPreview } from "../operation/statement-preview.js";

/**
 * A request's preview as plain lines, for `latch requests show` and the Slack message: what changes per
 * table, the plan and the masked sample, or why there is no preview. Pure.
 */
export function previewLines(preview: StatementPreview, options: { planLines?: number } = {}): string[] {
  if (preview.status !== "ran") {
    const what = preview.status === "refused" ? "not previewed" : "preview failed";
    return [`${what}: ${preview.reason} (the approval works without it)`];
  }
  const lines = [
    `preview: ${preview.rows} row${preview.rows === 1 ? "" : "s"} changed (${preview.commandTag}), rolled back, ${preview.durationMs} ms`,
  ];
  for (const table of preview.tables) {
    const parts = [
      table.inserted > 0 ? `${table.inserted} inserted` : "",
      table.updated > 0 ? `${table.updated} updated` : "",
      table.deleted > 0 ? `${table.deleted} deleted` : "",
    ].filter((part) => part !== "");
    lines.push(`  ${table.table}: ${parts.join(", ")}`);
  }
  for (const note of preview.notes ?? []) lines.push(`  note: ${note}`);
  const plan = preview.plan.split("\n");
  const shown = plan.slice(0, options.planLines ?? plan.length);
  lines.push("plan:", ...shown.map((line) => `  ${line}`));
  if (shown.length < plan.length) lines.push(`  … ${plan.length - shown.length} more plan lines`);
  if (preview.sample !== undefined) {
    const { columns, rows, truncated } = preview.sample;
    lines.push(`sample (masked${truncated ? ", first rows only" : ""}):`, `  ${columns.join(" | ")}`);
    for (const row of rows) lines.push(`  ${row.map((value) => value ?? "NULL").join(" | ")}`);
  }
  return lines;
}
