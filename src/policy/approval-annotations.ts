/**
 * `@approval("group")` and `@quorum("n")` on a permit: the permit allows only once `n` members of the
 * group have approved. Annotations are read from Cedar's own JSON form of the policy (policyToJson), so
 * they are exactly what Cedar parsed.
 */

export interface ApprovalRequirement {
  readonly group: string;
  readonly quorum: number;
}

export type ApprovalAnnotationResult =
  | { readonly ok: true; readonly approval: ApprovalRequirement | undefined }
  | { readonly ok: false; readonly problem: string };

/** Caps the quorum so a typo ("@quorum(\"20000\")") reads as a mistake, not as a request nobody can meet. */
export const MAX_QUORUM = 100;

export function readApprovalAnnotations(
  effect: "permit" | "forbid",
  annotations: Readonly<Record<string, string | null>>,
): ApprovalAnnotationResult {
  const group = annotations.approval;
  const quorumText = annotations.quorum;
  if (group === undefined) {
    if (quorumText !== undefined) return problem('@quorum needs @approval("group") on the same policy');
    return { ok: true, approval: undefined };
  }
  if (effect === "forbid") return problem("@approval only makes sense on a permit; a forbid always denies");
  if (group === null || group.trim() === "") return problem('@approval needs a group name: @approval("dba")');
  if (quorumText === undefined) return { ok: true, approval: { group, quorum: 1 } };
  if (quorumText === null || !/^[1-9][0-9]*$/.test(quorumText) || Number(quorumText) > MAX_QUORUM) {
    return problem(`@quorum must be a whole number from 1 to ${MAX_QUORUM}, e.g. @quorum("2")`);
  }
  return { ok: true, approval: { group, quorum: Number(quorumText) } };
}

function problem(message: string): ApprovalAnnotationResult {
  return { ok: false, problem: message };
}
