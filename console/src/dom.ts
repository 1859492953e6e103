/**
 * Building the DOM without markup: every recorded value (statement texts, subjects, reasons) is
 * attacker-controlled, so it only ever becomes a text node. No innerHTML anywhere in the console.
 */
export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

export function clear(element: Element): void {
  element.replaceChildren();
}

/** A labelled form control: the label names the control for screen readers and takes clicks. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

export function select(name: string, options: readonly [value: string, label: string][], value = "") {
  const element = h("select", { name });
  for (const [optionValue, label] of options) {
    const option = h("option", { value: optionValue }, label);
    if (optionValue === value) option.selected = true;
    element.append(option);
  }
  return element;
}

/** Announces a result to everyone, screen readers included (the toast is an aria-live region). */
export function toast(message: string, kind: "ok" | "error" = "ok"): void {
  const region = document.getElementById("toast");
  if (region === null) return;
  region.className = `toast show ${kind}`;
  region.textContent = message;
  window.setTimeout(() => {
    if (region.textContent === message) region.className = "toast";
  }, 6000);
}
