/**
 * Path routes under /console/ (history API), so a notification's link (/console/requests/<id>) opens the
 * request itself. The admin listener answers every /console/ path with the app.
 */
export type Route =
  | { view: "inbox" }
  | { view: "request"; id: string; intent?: "approve" | "deny" }
  | { view: "sessions"; query: URLSearchParams }
  | { view: "session"; id: string }
  | { view: "grants" }
  | { view: "principals" }
  | { view: "audit" }
  | { view: "sign-in"; error?: string };

export function parseRoute(location: Location): Route {
  const parts = location.pathname
    .replace(/^\/console\/?/, "")
    .split("/")
    .filter(Boolean)
    .map(decodeURIComponent);
  const query = new URLSearchParams(location.search);
  // Links from older notifications used hash routes (/#/requests/<id>/approve).
  const hash = location.hash.match(/^#\/requests\/([^/]+)(?:\/(approve|deny))?/);
  if (hash?.[1]) return request(decodeURIComponent(hash[1]), hash[2]);
  switch (parts[0]) {
    case "requests":
      return parts[1] ? request(parts[1], parts[2]) : { view: "inbox" };
    case "sessions":
      return parts[1] ? { view: "session", id: parts[1] } : { view: "sessions", query };
    case "grants":
      return { view: "grants" };
    case "principals":
      return { view: "principals" };
    case "audit":
      return { view: "audit" };
    case "sign-in":
      return { view: "sign-in", ...(query.get("error") ? { error: query.get("error") ?? "" } : {}) };
    default:
      return { view: "inbox" };
  }
}

function request(id: string, intent: string | undefined): Route {
  return intent === "approve" || intent === "deny"
    ? { view: "request", id, intent }
    : { view: "request", id };
}

export function navigate(path: string): void {
  history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

/** In-app links (data-link) navigate without a page load. */
export function interceptLinks(root: Document): void {
  root.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("a[data-link]") : null;
    if (!(target instanceof HTMLAnchorElement)) return;
    if (
      event instanceof MouseEvent &&
      (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0)
    )
      return;
    event.preventDefault();
    navigate(target.getAttribute("href") ?? "/console/");
  });
}
