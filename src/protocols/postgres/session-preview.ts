import type { Operation } from "../../operation/operation.js";
import type { PreviewOption } from "../../pipeline/pipeline-types.js";
import { type PreviewRunnerOptions, runPreview } from "./preview-runner.js";

/**
 * What a PostgreSQL session offers the pipeline for previews: one statement sent as a simple Query is run by
 * the preview runner; anything else (several statements, the extended protocol with bound parameters) is
 * refused with the reason, and its approval works as before, without a preview.
 */
export type SessionPreviewer = (operation: Operation) => PreviewOption;

export function createSessionPreviewer(
  runner: PreviewRunnerOptions,
  slack: PreviewOption["slack"],
): SessionPreviewer {
  return (operation) => ({
    slack,
    run: async () => {
      // A simple Query carries its statement whole; bound parameters exist only as (cut) previews here.
      if (operation.mode !== "simple" || operation.parameters !== undefined || operation.steps.length !== 1) {
        return {
          status: "refused",
          reason: "only one statement sent as a simple query (no bound parameters) is previewed",
          at: Date.now(),
        };
      }
      return runPreview(runner, operation.steps[0]!.text);
    },
  });
}
