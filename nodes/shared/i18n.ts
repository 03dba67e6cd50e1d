/** The node's message catalog: t("status.ready") reads "<namespace>.status.ready" through RED._. */
import type { NodeAPI } from 'node-red';

export type Translate = (key: string, subs?: Record<string, string | number>) => string;

export function translator(RED: NodeAPI, namespace: string): Translate {
  return (key, subs) => RED._(`${namespace}.${key}`, subs);
}
