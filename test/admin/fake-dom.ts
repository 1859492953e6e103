/**
 * Just enough DOM to run the console script under node:vm (no jsdom or browser on this machine). Elements with
 * an id are seeded from the page's HTML, so a script that looks up an id the page lacks fails here as it would
 * in a browser. Markup sinks (innerHTML, outerHTML, insertAdjacentHTML, document.write) throw: the console must
 * build its nodes with createElement and textContent only.
 */
export type FakeNode = FakeElement | string;

export interface FakeEvent {
  readonly type: string;
  readonly target: FakeElement | null;
  defaultPrevented: boolean;
  preventDefault(): void;
}

type Listener = (event: FakeEvent) => unknown;

function markupSink(): never {
  throw new Error("the console wrote markup (innerHTML-like sink): data must go through textContent");
}

export class FakeElement {
  readonly children: FakeNode[] = [];
  readonly listeners = new Map<string, Listener[]>();
  id = "";
  className = "";
  hidden = false;
  value = "";
  checked = false;
  disabled = false;
  title = "";
  href = "";

  constructor(readonly tagName: string) {}

  get textContent(): string {
    return this.children.map((child) => (typeof child === "string" ? child : child.textContent)).join("");
  }
  set textContent(value: string) {
    this.children.length = 0;
    if (value !== "") this.children.push(String(value));
  }
  set innerHTML(_value: string) {
    markupSink();
  }
  set outerHTML(_value: string) {
    markupSink();
  }
  insertAdjacentHTML(): never {
    return markupSink();
  }

  append(...nodes: FakeNode[]): void {
    for (const node of nodes) this.children.push(typeof node === "string" ? node : node);
  }
  appendChild(node: FakeElement): FakeElement {
    this.children.push(node);
    return node;
  }
  replaceChildren(...nodes: FakeNode[]): void {
    this.children.length = 0;
    this.append(...nodes);
  }
  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  dispatch(type: string): FakeEvent {
    const event: FakeEvent = {
      type,
      target: this,
      defaultPrevented: false,
      preventDefault() {
        event.defaultPrevented = true;
      },
    };
    for (const listener of this.listeners.get(type) ?? []) listener(event);
    return event;
  }
  /** Every element below this one (depth first) that matches. */
  findAll(match: (element: FakeElement) => boolean): FakeElement[] {
    const found: FakeElement[] = [];
    for (const child of this.children) {
      if (typeof child === "string") continue;
      if (match(child)) found.push(child);
      found.push(...child.findAll(match));
    }
    return found;
  }
}

export class FakeDocument {
  readonly createdTags: string[] = [];
  readonly visibilityState = "visible";
  readonly #byId = new Map<string, FakeElement>();

  /** Seeds one element per `id="..."` in the HTML, with its `hidden`, `checked`, `disabled` and `value`. */
  constructor(html: string) {
    for (const match of html.matchAll(/<([a-z]+)\b([^>]*?)\sid="([^"]+)"([^>]*)>/g)) {
      const [, tag, before, id, after] = match as unknown as [string, string, string, string, string];
      const attributes = `${before} ${after}`;
      const element = new FakeElement(tag.toUpperCase());
      element.id = id;
      element.hidden = /\shidden\b/.test(attributes);
      element.checked = /\schecked\b/.test(attributes);
      element.disabled = /\sdisabled\b/.test(attributes);
      element.value = /\svalue="([^"]*)"/.exec(attributes)?.[1] ?? "";
      if (this.#byId.has(id)) throw new Error(`duplicate id ${id} in the page`);
      this.#byId.set(id, element);
    }
  }

  getElementById(id: string): FakeElement {
    const element = this.#byId.get(id);
    if (element === undefined) throw new Error(`the script looked up #${id}, which the page does not have`);
    return element;
  }
  createElement(tag: string): FakeElement {
    this.createdTags.push(tag.toLowerCase());
    return new FakeElement(tag.toUpperCase());
  }
  write(): never {
    return markupSink();
  }
}

/** `location.hash` whose setter fires `hashchange` asynchronously, as browsers do. */
export class FakeLocation {
  #hash = "";
  constructor(private readonly onHashChange: () => void) {}
  get hash(): string {
    return this.#hash;
  }
  set hash(value: string) {
    const next = value === "" || value.startsWith("#") ? value : `#${value}`;
    if (next === this.#hash) return;
    this.#hash = next;
    setTimeout(this.onHashChange, 0);
  }
}

export class FakeWindow {
  readonly listeners = new Map<string, Listener[]>();
  readonly location = new FakeLocation(() => this.fire("hashchange"));

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  fire(type: string): void {
    for (const listener of this.listeners.get(type) ?? [])
      listener({ type, target: null, defaultPrevented: false, preventDefault() {} });
  }
}

/** sessionStorage over a Map. */
export class FakeStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}
