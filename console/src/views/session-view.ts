import { ApiError, api, get } from "../api.js";
import { append, h, toast } from "../dom.js";
import { eventCard } from "../event-view.js";
import { when } from "../format.js";
import { assembleRecordings, play } from "../replay.js";
import { type AuditEvent, chainedCount, type LiveSession, type Me, type Session } from "../types.js";

const PAGE = 1000;

/** One session: its facts, Kill while it is live (admins), the SSH replay, and the timeline of every event. */
export async function sessionView(main: HTMLElement, me: Me, id: string, signal: AbortSignal): Promise<void> {
  main.replaceChildren(h("p", { role: "status" }, "Loading…"));
  let session: Session;
  let events: AuditEvent[];
  try {
    ({ session, events } = await get<{ session: Session; events: AuditEvent[] }>(
      `/api/sessions/${encodeURIComponent(id)}`,
    ));
    // Long sessions (recordings especially) have more events than one page.
    let page = chainedCount(events);
    while (page === PAGE) {
      const after = events[events.length - 1]?.seq ?? 0;
      const next = await get<{ events: AuditEvent[] }>(
        `/api/audit?session=${encodeURIComponent(id)}&after=${after}&limit=${PAGE}`,
      );
      page = chainedCount(next.events);
      events = [...events, ...next.events];
    }
  } catch (problem) {
    main.replaceChildren(
      h(
        "p",
        { class: "banner", role: "alert" },
        problem instanceof ApiError ? problem.message : String(problem),
      ),
    );
    return;
  }
  const live = await get<{ sessions: LiveSession[] }>("/api/sessions/live").catch(() => ({ sessions: [] }));
  const isLive = session.endedAt === null && live.sessions.some((item) => item.id === id);

  const head = h(
    "div",
    { class: "page-head" },
    h("h1", {}, `${session.subject} → ${session.connection}`),
    isLive ? h("span", { class: "pill ok" }, "live") : h("span", { class: "pill" }, "ended"),
  );
  const facts = h(
    "dl",
    { class: "facts card" },
    ...[
      ["Session", session.id],
      ["Protocol", session.protocol],
      ["Groups", session.groups.join(", ")],
      ["Client", session.clientAddress],
      ["Started", when(session.startedAt)],
      [
        "Ended",
        session.endedAt === null ? "still open" : `${when(session.endedAt)} (${session.endReason ?? ""})`,
      ],
      ["Operations", `${session.operations} (${session.denied} denied)`],
    ].flatMap(([label, value]) => [h("dt", {}, label ?? ""), h("dd", {}, value ?? "")]),
  );
  const actions = h("div", { class: "buttons" });
  if (isLive && me.roles.admin)
    actions.append(
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: async () => {
            if (!window.confirm(`End ${session.subject}'s session now?`)) return;
            try {
              await api("DELETE", `/api/sessions/${encodeURIComponent(id)}`);
              toast("Session killed");
              await sessionView(main, me, id, signal);
            } catch (problem) {
              toast(problem instanceof ApiError ? problem.message : String(problem), "error");
            }
          },
        },
        "Kill session",
      ),
    );

  const recordings = assembleRecordings(events);
  const replay = h("section", { class: "replay", "aria-label": "Terminal replay" });
  for (const recording of recordings) {
    const holder = h("div", { class: "player" });
    append(
      replay,
      h(
        "h2",
        {},
        recording.header.command === undefined
          ? `Shell (channel ${recording.recording})`
          : `exec: ${recording.header.command}`,
      ),
      holder,
      recording.truncated ? h("p", { class: "muted" }, "Recording truncated at the size limit.") : null,
    );
    const player = play(holder, recording);
    signal.addEventListener("abort", () => player.dispose());
  }

  const deniedOnly = h("input", { type: "checkbox", id: "denied-only" });
  const timeline = h("ol", { class: "timeline" });
  const renderTimeline = () =>
    timeline.replaceChildren(
      ...events
        .filter((event) => event.kind !== "session_recording" || recordings.length === 0)
        .filter(
          (event) =>
            !deniedOnly.checked ||
            (event.kind === "operation" &&
              (event.data.verdict as { decision?: string })?.decision === "deny"),
        )
        .map(eventCard),
    );
  deniedOnly.addEventListener("change", renderTimeline);
  renderTimeline();

  main.replaceChildren();
  append(
    main,
    h(
      "nav",
      { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: "/console/sessions", "data-link": true }, "Sessions"),
      " / session",
    ),
    head,
    actions,
    facts,
    recordings.length > 0 ? replay : null,
    h(
      "section",
      { "aria-labelledby": "timeline-title" },
      h(
        "div",
        { class: "page-head" },
        h("h2", { id: "timeline-title" }, "Timeline"),
        h("label", { class: "inline" }, deniedOnly, " Denied only"),
      ),
      timeline,
    ),
  );
}
