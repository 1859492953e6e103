/**
 * What a MySQL session offers the pipeline for previews: one statement sent as COM_QUERY is run by the preview
 * runner against the session's current database; anything else (COM_STMT_EXECUTE with bound values, SQL-level
 * EXECUTE, several statements) is refused with the reason, and its approval works as before, without one.
 */
import type { Operation } from "../../operation/operation.js";
import type { PreviewOption } from "../../pipeline/pipeline-types.js";
import { type MysqlPreviewRunnerOptions, runMysqlPreview } from "./preview-runner.js";

/** `database`: the session's current database when the statement arrived (USE changes it). */
export type MysqlSessionPreviewer = (operation: Operation, database: string) => PreviewOption;

export function createMysqlSessionPreviewer(
  runner: MysqlPreviewRunnerOptions,
  slack: PreviewOption["slack"],
): MysqlSessionPreviewer {
  return (operation, database) => ({
    slack,
    run: async () => {
      const step = operation.steps[0];
      if (
        operation.mode !== "text" ||
        operation.parameters !== undefined ||
        operation.steps.length !== 1 ||
        step === undefined ||
        /^\s*execute\b/i.test(step.text)
      ) {
        return {
          status: "refused",
          reason: "only one statement sent as a plain query (no bound parameters) is previewed",
          at: Date.now(),
        };
      }
      return runMysqlPreview(runner, step.text, database);
    },
  });
}
