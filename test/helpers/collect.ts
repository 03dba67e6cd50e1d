/** The messages a helper node of node-red-node-test-helper receives, with a wait for the n-th. */
import { helper } from './nr';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>;

export interface Collected {
  msgs: Msg[];
  /** The n-th message (1-based), waited for up to ms (default: the one given to collect). */
  nth(n: number, ms?: number): Promise<Msg>;
}

/** Every message node `id` receives from now on; `nth` waits up to `defaultMs` unless told otherwise. */
export function collect(id: string, defaultMs: number): Collected {
  const msgs: Msg[] = [];
  helper.getNode(id).on('input', (m: Msg) => msgs.push(m));
  return {
    msgs,
    nth: (n, ms = defaultMs) =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const poll = () => {
          if (msgs.length >= n) return resolve(msgs[n - 1]);
          if (Date.now() - started > ms) return reject(new Error(`${id}: ${msgs.length} messages, waited for ${n}`));
          setTimeout(poll, 10); // poll interval while the flow works
        };
        poll();
      }),
  };
}
