import { h } from "./dom.js";

/**
 * SQL with syntax highlight, built as spans of text (never markup). A small tokenizer, enough for reading:
 * keywords, strings, quoted identifiers, numbers, comments, and Latch's mask markers (masked values are shown
 * as recorded, never in clear).
 */
const KEYWORDS = new Set(
  (
    "select from where and or not insert into values update set delete create alter drop table index view " +
    "join left right inner outer full cross on as group by order having limit offset union all distinct " +
    "returning with begin commit rollback grant revoke truncate case when then else end is null in exists " +
    "like ilike between copy to function procedure schema database role user primary key references " +
    "default cascade if replace analyze explain vacuum desc asc true false"
  ).split(" "),
);

const TOKEN =
  /(\[redacted\]|hmac:[0-9a-f]{32}|\*{3,})|(--[^\n]*|\/\*[\s\S]*?\*\/)|('(?:[^']|'')*')|("(?:[^"]|"")*")|(\b\d+(?:\.\d+)?\b)|(\b[A-Za-z_][A-Za-z0-9_$]*\b)/g;

export function highlightSql(text: string): HTMLElement {
  const code = h("code", { class: "sql" });
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    const at = match.index ?? 0;
    if (at > last) code.append(text.slice(last, at));
    const [token, masked, comment, string, quoted, number, word] = match;
    if (masked !== undefined) code.append(masks(token));
    else if (comment !== undefined) code.append(h("span", { class: "t-comment" }, token));
    else if (string !== undefined) code.append(h("span", { class: "t-string" }, token));
    else if (quoted !== undefined) code.append(h("span", { class: "t-ident" }, token));
    else if (number !== undefined) code.append(h("span", { class: "t-number" }, token));
    else if (word !== undefined && KEYWORDS.has(word.toLowerCase()))
      code.append(h("span", { class: "t-keyword" }, token));
    else code.append(token);
    last = at + token.length;
  }
  if (last < text.length) code.append(text.slice(last));
  return h("pre", { class: "code" }, code);
}

/** A masked value: marked, with a label for screen readers. */
export function masks(text: string): HTMLElement {
  return h("mark", { class: "masked", title: "masked value (the clear value is never recorded)" }, text);
}

const MASKED = /\[redacted\]|hmac:[0-9a-f]{32}|\*{3,}/g;

/** Plain recorded text with its masked values marked. */
export function withMasks(text: string): DocumentFragment {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(MASKED)) {
    const at = match.index ?? 0;
    out.append(text.slice(last, at), masks(match[0]));
    last = at + match[0].length;
  }
  out.append(text.slice(last));
  return out;
}
