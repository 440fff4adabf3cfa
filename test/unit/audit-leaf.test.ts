import { canonicalJson, joinLeaf, splitLeaf } from '../../src/audit/log.js';
import { parseEvent, type AuditEventInput, type AuditLeaf } from '../../src/audit/events.js';

// The database splices the leaf index it assigns into the leaf's canonical JSON (audit_append,
// migration 009): head + index + tail must be byte for byte the canonical JSON of the whole leaf.
describe('a leaf split around its index', () => {
  const time = '2026-11-23T10:00:00.123Z';
  const leafOf = (event: AuditEventInput, leafIndex = 0): AuditLeaf => ({
    v: 1,
    leaf_index: leafIndex,
    time,
    ...parseEvent(event),
  });

  const events: AuditEventInput[] = [
    {
      type: 'account.registered',
      actor: { type: 'account', id: 'acc-1' },
      subjects: { account: 'acc-1' },
      payload: { login_type: 'email' },
    },
    { type: 'account.registered', actor: { type: 'system' }, payload: { login_type: 'phone' } },
    // Text that looks like the spliced member, in the actor that precedes it and in the payload after.
    {
      type: 'account.registered',
      actor: { type: 'operator', id: '"leaf_index":0,"payload":{}}' },
      payload: { login_type: 'email' },
    },
    {
      type: 'account.registered',
      actor: { type: 'operator', id: '\\",\\"leaf_index\\":0' },
      payload: { login_type: 'email' },
    },
    {
      type: 'account.registered',
      actor: { type: 'account', id: '张三 \u2028 \ud83d\ude00 \u0000 \u007f' },
      payload: { login_type: 'email' },
    },
    {
      type: 'notary.queried',
      actor: { type: 'notary', id: 'n-1' },
      subjects: { person: 'ab'.repeat(32) },
      payload: { endpoint: 'leaves', filters: { leaf_index: 0, a: { leaf_index: 12 }, '\u0000': 1e21 }, results: 1 },
    },
  ];

  const indices = [0, 1, 9, 10, 99, 100, 12_345, 1_000_000, 2 ** 31, 2 ** 53 - 1];

  it('joins back to the canonical JSON of the leaf with any index', () => {
    for (const event of events) {
      const template = splitLeaf(leafOf(event));
      expect(template.head).toBe(`{"actor":${canonicalJson(parseEvent(event).actor)},"leaf_index":`);
      for (const index of indices) {
        expect(joinLeaf(template, index)).toBe(canonicalJson(leafOf(event, index)));
        expect(JSON.parse(joinLeaf(template, index)).leaf_index).toBe(index);
      }
    }
  });

  it('refuses a placeholder other than 0, and a leaf of another shape', () => {
    const leaf = leafOf(events[0]!);
    expect(() => splitLeaf({ ...leaf, leaf_index: 7 })).toThrow(/placeholder/);
    // A key sorting before "actor" or between "actor" and "leaf_index" would move the index.
    expect(() => splitLeaf({ ...leaf, aardvark: 1 } as AuditLeaf)).toThrow(/shape/);
    expect(() => splitLeaf({ ...leaf, b: 1 } as AuditLeaf)).toThrow(/shape/);
    expect(() => splitLeaf({ ...leaf, leaf_indey: 1 } as AuditLeaf)).toThrow(/shape/);
  });
});
