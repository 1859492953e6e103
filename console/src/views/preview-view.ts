import { h } from "../dom.js";
import { withMasks } from "../sql-highlight.js";
import type { StatementPreview } from "../types.js";

/**
 * What the rolled-back preview of a held write found: rows per table, the plan, the masked sample; or why
 * there is none (the approval works without it). Every value is text (dom.ts), masked values are marked.
 */
export function previewView(preview: StatementPreview): HTMLElement {
  if (preview.status !== "ran") {
    return h(
      "section",
      { class: "preview muted", "aria-label": "Preview" },
      h("span", { class: "label" }, preview.status === "refused" ? "Not previewed: " : "Preview failed: "),
      preview.reason,
      " (the approval works without a preview)",
    );
  }
  const section = h("section", { class: "preview", "aria-label": "Preview" });
  section.append(
    h(
      "p",
      {},
      h("span", { class: "label" }, "Preview: "),
      `${preview.rows} row${preview.rows === 1 ? "" : "s"} would change (${preview.commandTag}; run and rolled back in ${preview.durationMs} ms)`,
    ),
  );
  if (preview.tables.length > 0) {
    const body = h("tbody");
    for (const table of preview.tables)
      body.append(
        h(
          "tr",
          {},
          h("td", {}, table.table),
          h("td", {}, table.inserted),
          h("td", {}, table.updated),
          h("td", {}, table.deleted),
        ),
      );
    section.append(
      h(
        "table",
        { class: "preview-tables" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, "Table"),
            h("th", {}, "Inserted"),
            h("th", {}, "Updated"),
            h("th", {}, "Deleted"),
          ),
        ),
        body,
      ),
    );
  }
  for (const note of preview.notes ?? []) section.append(h("p", { class: "muted" }, note));
  if (preview.sample !== undefined) {
    const { columns, rows, truncated } = preview.sample;
    const body = h("tbody");
    for (const row of rows)
      body.append(
        h("tr", {}, ...row.map((value) => h("td", {}, value === null ? "NULL" : withMasks(value)))),
      );
    section.append(
      h("p", { class: "label" }, `Changed rows${truncated ? " (first ones)" : ""}, masked:`),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "preview-sample" },
          h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", {}, c)))),
          body,
        ),
      ),
    );
  }
  section.append(h("details", {}, h("summary", {}, "Plan"), h("pre", {}, preview.plan)));
  return section;
}
