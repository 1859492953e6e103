import { ApiError, get } from "../api.js";
import { field, h, select } from "../dom.js";
import { localInputToIso, when } from "../format.js";
import { navigate } from "../router.js";
import type { AuditEvent, LiveSession, Session } from "../types.js";

const FILTERS = ["from", "to", "subject", "connection", "protocol", "decision", "text", "active"] as const;

/**
 * Live and past sessions with filters kept in the URL (a filtered list can be shared). Text and decision
 * search the audit log for matching operations and keep the sessions they belong to.
 */
export async function sessionsView(main: HTMLElement, query: URLSearchParams): Promise<void> {
  const input = (name: string, type = "text") => h("input", { name, type, value: query.get(name) ?? "" });
  const from = input("from", "datetime-local");
  const to = input("to", "datetime-local");
  const subject = input("subject");
  const connection = input("connection");
  const text = input("text", "search");
  const protocol = select(
    "protocol",
    [
      ["", "Any protocol"],
      ["postgres", "PostgreSQL"],
      ["ssh", "SSH"],
      ["http", "HTTP"],
      ["mcp", "MCP"],
    ],
    query.get("protocol") ?? "",
  );
  const decision = select(
    "decision",
    [
      ["", "Any decision"],
      ["deny", "Has denials"],
      ["approval", "Had approvals"],
      ["allow", "Allowed"],
    ],
    query.get("decision") ?? "",
  );
  const active = select(
    "active",
    [
      ["", "Live and ended"],
      ["true", "Live only"],
      ["false", "Ended only"],
    ],
    query.get("active") ?? "",
  );
  const form = h(
    "form",
    {
      class: "filters",
      role: "search",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const next = new URLSearchParams();
        for (const element of [from, to, subject, connection, text, protocol, decision, active])
          if (element.value !== "") next.set(element.name, element.value);
        navigate(`/console/sessions${next.size > 0 ? `?${next}` : ""}`);
      },
    },
    field("From", from),
    field("To", to),
    field("Principal", subject),
    field("Connection", connection),
    field("Protocol", protocol),
    field("Decision", decision),
    field("Statement text", text),
    field("Status", active),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Filter")),
  );
  const body = h("tbody", {});
  const table = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", { class: "sr-only" }, "Sessions, newest first"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...[
            "Started",
            "Principal",
            "Connection",
            "Protocol",
            "Client",
            "Operations",
            "Denied",
            "Status",
          ].map((label) => h("th", { scope: "col" }, label)),
        ),
      ),
      body,
    ),
  );
  const note = h("p", { class: "muted", role: "status" }, "Loading…");
  main.replaceChildren(h("div", { class: "page-head" }, h("h1", {}, "Sessions")), form, note, table);

  const api = new URLSearchParams({ limit: "200" });
  for (const name of ["subject", "connection", "protocol", "active"] as const) {
    const value = query.get(name);
    if (value) api.set(name, value);
  }
  const fromIso = localInputToIso(query.get("from") ?? "");
  const toIso = localInputToIso(query.get("to") ?? "");
  if (fromIso) api.set("from", fromIso);
  if (toIso) api.set("to", toIso);
  try {
    const [{ sessions }, live] = await Promise.all([
      get<{ sessions: Session[] }>(`/api/sessions?${api}`),
      get<{ sessions: LiveSession[] }>("/api/sessions/live").catch(() => ({ sessions: [] })),
    ]);
    let shown = sessions;
    const wantText = query.get("text") ?? "";
    const wantDecision = query.get("decision") ?? "";
    if (wantText !== "" || wantDecision !== "") {
      const search = new URLSearchParams({ kind: "operation", limit: "1000" });
      if (wantText) search.set("text", wantText);
      if (wantDecision) search.set("decision", wantDecision);
      const { events } = await get<{ events: AuditEvent[] }>(`/api/audit?${search}`);
      const ids = new Set(events.map((event) => event.sessionId));
      shown = sessions.filter((session) => ids.has(session.id));
    }
    const liveIds = new Set(live.sessions.map((session) => session.id));
    note.textContent = `${shown.length} session${shown.length === 1 ? "" : "s"}${FILTERS.some((f) => query.get(f)) ? " match" : ""}; ${liveIds.size} live now.`;
    body.replaceChildren(
      ...shown.map((session) => {
        const link = h(
          "a",
          { href: `/console/sessions/${encodeURIComponent(session.id)}`, "data-link": true },
          when(session.startedAt),
        );
        const isLive = session.endedAt === null && (liveIds.size === 0 || liveIds.has(session.id));
        return h(
          "tr",
          {},
          h("td", {}, link),
          h("td", {}, session.subject),
          h("td", {}, session.connection),
          h("td", {}, session.protocol),
          h("td", { class: "mono" }, session.clientAddress),
          h("td", { class: "num" }, session.operations),
          h("td", { class: `num${session.denied > 0 ? " bad" : ""}` }, session.denied),
          h(
            "td",
            {},
            isLive
              ? h("span", { class: "pill ok" }, "live")
              : session.endedAt === null
                ? "open"
                : `ended ${when(session.endedAt)}`,
          ),
        );
      }),
    );
  } catch (problem) {
    note.className = "banner";
    note.setAttribute("role", "alert");
    note.textContent = problem instanceof ApiError ? problem.message : String(problem);
  }
}
