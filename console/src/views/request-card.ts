import { ApiError, api } from "../api.js";
import { h, toast } from "../dom.js";
import { duration, timeLeft, when } from "../format.js";
import { highlightSql } from "../sql-highlight.js";
import type { ApprovalRequest, Me } from "../types.js";
import { previewView } from "./preview-view.js";

const GRANT_WINDOWS: [string, string][] = [
  ["", "This statement only"],
  ["15m", "Grant for 15 minutes"],
  ["1h", "Grant for 1 hour"],
  ["4h", "Grant for 4 hours"],
];

/** Whether this person may vote on the request (the API decides; this only hides buttons it would refuse). */
export function mayDecide(me: Me, request: ApprovalRequest): boolean {
  return (
    request.state === "pending" &&
    request.requester !== me.subject &&
    me.groups.includes(request.group) &&
    !request.votes.some((vote) => vote.approver === me.subject)
  );
}

/**
 * One request: what would run, for whom, why, and until when; Approve (with an optional grant window) and
 * Deny (with a reason) when this person may decide it.
 */
export function requestCard(
  me: Me,
  request: ApprovalRequest,
  options: { full: boolean; focus?: "approve" | "deny"; onChange: (updated: ApprovalRequest) => void },
): HTMLElement {
  const titleId = `req-${request.id}`;
  const card = h("article", { class: `card request state-${request.state}`, "aria-labelledby": titleId });
  const pending = request.state === "pending";
  card.append(
    h(
      "header",
      { class: "request-head" },
      h(
        "h2",
        { id: titleId },
        h(
          "a",
          { href: `/console/requests/${encodeURIComponent(request.id)}`, "data-link": true },
          request.requester,
        ),
        ` → ${request.connection}`,
      ),
      h(
        "span",
        { class: `pill ${pending ? "warn" : request.state === "approved" ? "ok" : "bad"}` },
        request.state,
      ),
      pending
        ? h("span", { class: "muted", "data-expires": request.expiresAt }, timeLeft(request.expiresAt))
        : h("span", { class: "muted" }, `decided ${when(request.decidedAt)}`),
    ),
  );
  if (request.actors && request.actors.length > 0)
    card.append(
      h(
        "p",
        { class: "chain" },
        "Acting for: ",
        [request.requester, ...request.actors.map((actor) => actor.subject)].join(" ← "),
      ),
    );
  card.append(h("p", { class: "reason" }, h("span", { class: "label" }, "Why approval: "), request.reason));
  for (const statement of request.statements) card.append(highlightSql(statement));
  if (request.statements.length === 0 && request.accesses.length > 0)
    card.append(h("p", {}, h("span", { class: "label" }, "Asks for: "), request.accesses.join(", ")));
  if (request.preview) card.append(previewView(request.preview));
  const facts = h("dl", { class: "facts" });
  const add = (label: string, value: string | Node | null | undefined) => {
    if (value !== null && value !== undefined && value !== "")
      facts.append(h("dt", {}, label), h("dd", {}, value));
  };
  add("Approvers", `${request.group}${request.quorum > 1 ? ` (${request.quorum} needed)` : ""}`);
  add("Requester groups", request.requesterGroups.join(", "));
  add("Mode", request.mode === "hold" ? "statement waiting in its session" : request.mode);
  add("Asked", when(request.createdAt));
  add("Grant asked for", request.requestedForMs === null ? null : duration(request.requestedForMs));
  add("Policies", request.rules.join(", "));
  add(
    "Session",
    request.sessionId === null || !me.roles.read
      ? request.sessionId
      : h(
          "a",
          { href: `/console/sessions/${encodeURIComponent(request.sessionId)}`, "data-link": true },
          request.sessionId,
        ),
  );
  add("Decision", request.decisionReason);
  if (options.full) card.append(facts);
  if (request.votes.length > 0)
    card.append(
      h(
        "ul",
        { class: "votes" },
        ...request.votes.map((vote) =>
          h(
            "li",
            {},
            `${vote.approver} ${vote.vote === "approve" ? "approved" : "denied"} ${when(vote.at)}`,
            vote.reason ? `: ${vote.reason}` : "",
          ),
        ),
      ),
    );
  if (mayDecide(me, request)) card.append(decisionForm(request, options));
  else if (pending && request.requester === me.subject)
    card.append(h("p", { class: "muted" }, "Your own request: someone else in the group decides it."));
  return card;
}

function decisionForm(
  request: ApprovalRequest,
  options: { focus?: "approve" | "deny"; onChange: (updated: ApprovalRequest) => void },
): HTMLElement {
  const base = `/api/requests/${encodeURIComponent(request.id)}`;
  const windowSelect = h("select", { id: `for-${request.id}`, name: "for" });
  for (const [value, label] of GRANT_WINDOWS) windowSelect.append(h("option", { value }, label));
  const reason = h("input", {
    id: `reason-${request.id}`,
    name: "reason",
    maxlength: 2000,
    placeholder: "Needed to deny; optional to approve",
  });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const act = async (decision: "approve" | "deny") => {
    if (decision === "deny" && reason.value.trim() === "") {
      error.hidden = false;
      error.textContent = "Say why you deny it: the requester sees this reason.";
      reason.focus();
      return;
    }
    const body: Record<string, string> = {};
    if (reason.value.trim() !== "") body.reason = reason.value.trim();
    if (decision === "approve" && windowSelect.value !== "") body.for = windowSelect.value;
    try {
      const { request: updated } = await api<{ request: ApprovalRequest }>(
        "POST",
        `${base}/${decision}`,
        body,
      );
      toast(`${decision === "approve" ? "Approved" : "Denied"} ${request.requester}'s request`);
      options.onChange(updated);
    } catch (problem) {
      error.hidden = false;
      error.textContent = problem instanceof ApiError ? problem.message : String(problem);
    }
  };
  const approve = h("button", { type: "button", class: "primary", onclick: () => act("approve") }, "Approve");
  const deny = h("button", { type: "button", class: "danger", onclick: () => act("deny") }, "Deny");
  const form = h(
    "div",
    { class: "decide" },
    h("div", { class: "field" }, h("label", { for: windowSelect.id }, "Grant window"), windowSelect),
    h("div", { class: "field grow" }, h("label", { for: reason.id }, "Reason"), reason),
    h("div", { class: "buttons" }, approve, deny),
    error,
  );
  if (options.focus === "approve") queueMicrotask(() => approve.focus());
  if (options.focus === "deny") queueMicrotask(() => reason.focus());
  return form;
}
