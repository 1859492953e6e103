/**
 * `@preview("true")` on a permit: a write this permit could allow is first run in a transaction Latch rolls
 * back (docs/approvals.md), and the final decision sees `context.preview`. Read from Cedar's JSON form of the
 * policy, like @approval.
 */

export type PreviewAnnotationResult =
  | { readonly ok: true; readonly preview: boolean }
  | { readonly ok: false; readonly problem: string };

export function readPreviewAnnotation(
  effect: "permit" | "forbid",
  annotations: Readonly<Record<string, string | null>>,
): PreviewAnnotationResult {
  const value = annotations.preview;
  if (value === undefined) return { ok: true, preview: false };
  if (value !== "true" && value !== "false")
    return { ok: false, problem: '@preview takes "true" or "false": @preview("true")' };
  if (effect === "forbid" && value === "true")
    return { ok: false, problem: "@preview only makes sense on a permit; a forbid never runs the statement" };
  return { ok: true, preview: value === "true" };
}
