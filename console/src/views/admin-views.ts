import { ApiError, api, get } from "../api.js";
import { field, h, toast } from "../dom.js";
import { eventCard } from "../event-view.js";
import { timeLeft, when } from "../format.js";
import { type AuditEvent, type Blocked, chainedCount, type Grant, type Me } from "../types.js";

const problemText = (problem: unknown) => (problem instanceof ApiError ? problem.message : String(problem));

/** Grants open now (or all), with Revoke for admins (the API refuses everyone else). */
export async function grantsView(main: HTMLElement, me: Me): Promise<void> {
  const body = h("tbody", {});
  main.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "Grants")),
    h(
      "p",
      { class: "muted" },
      "Time windows approvers opened. Revoking ends the window at once; running statements finish.",
    ),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["Principal", "Connection", "Accesses", "Approvers", "Until", ""].map((label) =>
              h("th", { scope: "col" }, label),
            ),
          ),
        ),
        body,
      ),
    ),
  );
  try {
    const { grants } = await get<{ grants: Grant[] }>("/api/grants?active=true");
    if (grants.length === 0)
      body.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No open grants.")));
    for (const grant of grants) {
      const revoke = h(
        "button",
        {
          type: "button",
          class: "danger small",
          "aria-label": `Revoke ${grant.principal}'s grant on ${grant.connection}`,
          onclick: async () => {
            const reason = window.prompt("Why revoke it? (recorded in the audit log)") ?? undefined;
            if (reason === undefined) return;
            try {
              await api("DELETE", `/api/grants/${encodeURIComponent(grant.id)}`, { reason });
              toast("Grant revoked");
              await grantsView(main, me);
            } catch (problem) {
              toast(problemText(problem), "error");
            }
          },
        },
        "Revoke",
      );
      body.append(
        h(
          "tr",
          {},
          h("td", {}, grant.principal),
          h("td", {}, grant.connection),
          h("td", { class: "mono wrap" }, grant.accesses.join(", ")),
          h("td", {}, grant.group),
          h("td", {}, `${when(grant.expiresAt)} (${timeLeft(grant.expiresAt)})`),
          h("td", {}, me.roles.admin ? revoke : ""),
        ),
      );
    }
  } catch (problem) {
    main.append(h("p", { class: "banner", role: "alert" }, problemText(problem)));
  }
}

/** Blocked principals (Unblock), and a form to block one: every session of theirs ends at once. */
export async function principalsView(main: HTMLElement, me: Me): Promise<void> {
  const principal = h("input", { name: "principal", required: true, autocomplete: "off" });
  const reason = h("input", { name: "reason", maxlength: 500 });
  const body = h("tbody", {});
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: async (event: Event) => {
        event.preventDefault();
        try {
          const result = await api<{ sessionsEnded: number }>(
            "POST",
            `/api/principals/${encodeURIComponent(principal.value.trim())}/block`,
            { reason: reason.value },
          );
          toast(`${principal.value} blocked; ${result.sessionsEnded} session(s) ended`);
          await principalsView(main, me);
        } catch (problem) {
          toast(problemText(problem), "error");
        }
      },
    },
    field("Principal", principal),
    field("Reason", reason),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "danger" }, "Block")),
  );
  main.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "Principals")),
    me.roles.admin ? form : h("p", { class: "muted" }, "Only admins block and unblock."),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["Blocked principal", "By", "Reason", "Since", ""].map((label) =>
              h("th", { scope: "col" }, label),
            ),
          ),
        ),
        body,
      ),
    ),
  );
  try {
    const { blocked } = await get<{ blocked: Blocked[] }>("/api/principals/blocked");
    if (blocked.length === 0)
      body.append(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "Nobody is blocked.")));
    for (const entry of blocked) {
      const unblock = h(
        "button",
        {
          type: "button",
          class: "small",
          onclick: async () => {
            try {
              await api("DELETE", `/api/principals/${encodeURIComponent(entry.principal)}/block`);
              toast(`${entry.principal} unblocked`);
              await principalsView(main, me);
            } catch (problem) {
              toast(problemText(problem), "error");
            }
          },
        },
        "Unblock",
      );
      body.append(
        h(
          "tr",
          {},
          h("td", {}, entry.principal),
          h("td", {}, entry.blockedBy),
          h("td", { class: "wrap" }, entry.reason),
          h("td", {}, when(entry.blockedAt)),
          h("td", {}, me.roles.admin ? unblock : ""),
        ),
      );
    }
  } catch (problem) {
    main.append(h("p", { class: "banner", role: "alert" }, problemText(problem)));
  }
}

/** Audit search (text, decision, principal) and Verify chain. */
export function auditView(main: HTMLElement): void {
  const text = h("input", { name: "text", type: "search" });
  const subject = h("input", { name: "subject" });
  const decision = h(
    "select",
    { name: "decision" },
    ...["", "allow", "deny", "approval"].map((value) =>
      h("option", { value }, value === "" ? "Any decision" : value),
    ),
  );
  const results = h("ol", { class: "timeline" });
  const verdict = h("p", { role: "status", class: "muted" });
  let after = 0;
  const load = async (more: boolean) => {
    if (!more) {
      after = 0;
      results.replaceChildren();
    }
    const query = new URLSearchParams({ limit: "200", after: String(after) });
    if (text.value) query.set("text", text.value);
    if (subject.value) query.set("subject", subject.value);
    if (decision.value) query.set("decision", decision.value);
    try {
      const { events } = await get<{ events: AuditEvent[] }>(`/api/audit?${query}`);
      results.append(...events.map(eventCard));
      after = events[events.length - 1]?.seq ?? after;
      moreButton.hidden = chainedCount(events) < 200;
    } catch (problem) {
      toast(problemText(problem), "error");
    }
  };
  const moreButton = h("button", { type: "button", hidden: true, onclick: () => load(true) }, "Next 200");
  const verify = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        verdict.textContent = "Verifying…";
        try {
          const report = await get<{
            ok: boolean;
            events: number;
            firstBadSeq?: number;
            problem?: string;
            head: { seq: number; hash: string };
          }>("/api/audit/verify");
          verdict.className = report.ok ? "ok" : "banner";
          verdict.textContent = report.ok
            ? `Chain OK: ${report.events} events, head ${report.head.seq}:${report.head.hash.slice(0, 16)}…`
            : `Chain BROKEN at seq ${report.firstBadSeq}: ${report.problem}`;
        } catch (problem) {
          verdict.textContent = problemText(problem);
        }
      },
    },
    "Verify chain",
  );
  main.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "Audit"), verify),
    verdict,
    h(
      "form",
      {
        class: "filters",
        role: "search",
        onsubmit: (event: Event) => {
          event.preventDefault();
          void load(false);
        },
      },
      field("Statement text", text),
      field("Principal", subject),
      field("Decision", decision),
      h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Search")),
    ),
    results,
    moreButton,
  );
  void load(false);
}
