/** The approver lists of a node's settings as text, one person per line. Node-RED-free. */
import { IDENTITY_CHANNELS, type ApproverPerson } from './records';

/**
 * Approvers, one person per line: 'alice: editor:alice, email:alice@example.org'. A line of identities
 * alone ('editor:bob') names the person after the first identity's id. '#' starts a comment.
 */
export function parsePersons(text: unknown, what: string): ApproverPerson[] {
  if (typeof text !== 'string') return [];
  const out: ApproverPerson[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`${what}: '${line.slice(0, 80)}' is not 'name: channel:id, ...'`);
    const head = line.slice(0, colon).trim();
    const identitiesOnly = (IDENTITY_CHANNELS as readonly string[]).includes(head) && !/\s/.test(line.charAt(colon + 1));
    const name = identitiesOnly
      ? line
          .slice(colon + 1)
          .split(',')[0]
          .trim()
      : head;
    const rest = identitiesOnly ? line : line.slice(colon + 1);
    const identities = rest
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    out.push({ name, identities });
  }
  return out;
}
