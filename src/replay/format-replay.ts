import { CHANGES, type Change, type ReplayReport } from "./replay-history.js";

/** The replay report as a person reads it in a terminal or a CI log. */

const TITLES: Record<Change, string> = {
  newly_denied: "newly denied",
  newly_allowed: "newly allowed",
  newly_approval: "newly needing approval",
};

export function formatReplayReport(report: ReplayReport): string[] {
  const window = `${report.since ?? "the beginning"} .. ${report.until ?? "now"}`;
  const lines = [
    `replayed ${report.redecided} of ${report.operations} operations (${window}; ${report.events} audit events read)`,
  ];
  for (const change of CHANGES) {
    const { count, groups } = report.changes[change];
    lines.push("", `${TITLES[change]}: ${count}`);
    for (const group of groups) {
      lines.push(`  ${group.principal}  ${group.action}  ${group.count}`);
      for (const example of group.examples) {
        lines.push(`    #${example.seq} ${example.at}  ${example.statements.join("; ")}`);
        lines.push(`      ${example.reason}`);
      }
    }
  }
  lines.push("", `unchanged: ${report.unchanged}`);
  if (report.driftFromRecorded > 0) {
    lines.push(
      `note: the current policies decide ${report.driftFromRecorded} operations differently than when they ran (policies changed since); changes above compare current with candidate`,
    );
  }
  if (report.notRedecidable.count > 0) {
    lines.push(`not re-decidable: ${report.notRedecidable.count}`);
    for (const [reason, count] of Object.entries(report.notRedecidable.reasons)) {
      lines.push(`  ${count}  ${reason}`);
    }
    if (report.notRedecidable.needsPreview > 0)
      lines.push(
        "  (a preview cannot be re-run on past data: these are neither counted as changed nor as unchanged)",
      );
  }
  if (report.regressions.count > 0) {
    lines.push(
      "",
      `REGRESSION: ${report.regressions.count} operations that ran would now be denied (pass --allow-regressions to accept)`,
    );
  }
  return lines;
}
