/**
 * Per-key mutual exclusion, shared by every engine on the same store object (a redeploy briefly runs
 * two). Each caller joins the queue of all its keys synchronously, so multi-key batches cannot deadlock.
 */
import type { StateStore } from '../types';

export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Keys with an operation running or queued. */
  busyKeys(): IterableIterator<string> {
    return this.tails.keys();
  }

  async run<T>(keys: string[], work: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)];
    const before: Promise<void>[] = [];
    for (const key of unique) {
      const tail = this.tails.get(key);
      if (tail) before.push(tail);
    }
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    for (const key of unique) this.tails.set(key, done);
    try {
      await Promise.all(before);
      return await work();
    } finally {
      release();
      for (const key of unique) if (this.tails.get(key) === done) this.tails.delete(key);
    }
  }
}

const mutexByStore = new WeakMap<object, KeyedMutex>();

export function mutexFor(store: StateStore): KeyedMutex {
  let mutex = mutexByStore.get(store);
  if (!mutex) {
    mutex = new KeyedMutex();
    mutexByStore.set(store, mutex);
  }
  return mutex;
}
