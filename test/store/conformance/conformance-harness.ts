import { afterEach, beforeEach, it } from "vitest";
import type { Stores } from "../../../src/store/stores.js";

/**
 * What an implementation gives the conformance suite: fresh stores, and the same stores again after a close
 * (a restart). The suite talks to them only through the interfaces of src/store/stores.ts.
 */
export interface StoreImplementation {
  /** Opens a new, empty set of stores. */
  create(): Promise<OpenedStores>;
  /**
   * Cases this implementation cannot pass, by title, each with the reason (printed in the skipped test's name).
   * Every skip must say why; an empty reason is refused.
   */
  readonly skip?: Readonly<Record<string, string>>;
}

export interface OpenedStores {
  readonly stores: Stores;
  /** Closes `stores` if still open and opens the same backing store again. */
  reopen(): Promise<Stores>;
  /** Closes everything and removes the backing store. */
  destroy(): Promise<void>;
}

/** One test per case, with a fresh store each; `current()` is the stores of the running case. */
export function conformanceCases(implementation: StoreImplementation) {
  let opened: OpenedStores | undefined;
  let stores: Stores | undefined;
  beforeEach(async () => {
    opened = await implementation.create();
    stores = opened.stores;
  });
  afterEach(async () => {
    await stores?.close();
    await opened?.destroy();
    opened = undefined;
    stores = undefined;
  });
  const state = {
    get stores(): Stores {
      if (stores === undefined) throw new Error("no stores open");
      return stores;
    },
    /** A restart: the stores are closed and opened again over the same data. */
    async reopen(): Promise<Stores> {
      if (opened === undefined) throw new Error("no stores open");
      stores = await opened.reopen();
      return stores;
    },
  };
  const test = (title: string, run: (s: typeof state) => Promise<void>, timeoutMs?: number) => {
    const reason = implementation.skip?.[title];
    if (reason !== undefined) {
      if (reason.trim() === "") throw new Error(`the skip of "${title}" must give its reason`);
      it.skip(`${title} (skipped: ${reason})`, () => {});
      return;
    }
    it(title, () => run(state), timeoutMs);
  };
  return test;
}
