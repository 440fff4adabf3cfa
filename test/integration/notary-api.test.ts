import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/audit/merkle.js';
import {
  verifyEvidenceBundle,
  verifyHeadsConsistent,
  verifyLeafInclusion,
  verifyTreeHead,
  type EvidenceBundle,
} from '../../src/audit/verify.js';
import { personIndex } from '../../src/identity/blind-index.js';
import { BLIND_INDEX_KEY } from '../../src/identity/blind-index.js';
import { addMerchant, discover, newLogin } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { runCli } from '../helpers/process.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const ID = '11010519491231002X';

describe('the notary API', () => {
  let running: Running;
  let api: (
    path: string,
    init?: { method?: string; body?: unknown; token?: string | null; headers?: Record<string, string> },
  ) => Promise<{ status: number; body: any; headers: Headers }>;
  let readToken: string;
  let writeToken: string;
  let notaryId: string;
  let accountId: string;

  beforeAll(async () => {
    running = await startTestPlatform();
    const { platform, issuer } = running;
    const notary = await platform.clients.add({ name: 'Beijing Notary Office', kind: 'notary' });
    notaryId = notary.client_id;
    const config = await discover(issuer, notary.client_id, notary.client_secret);
    readToken = (await oidc.clientCredentialsGrant(config, { scope: 'audit:read' })).access_token;
    writeToken = (await oidc.clientCredentialsGrant(config, { scope: 'registry:write' })).access_token;
    api = async (path, init = {}) => {
      const token = init.token === undefined ? readToken : init.token;
      const response = await fetch(`${issuer}/api/notary${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...init.headers,
        },
        body:
          init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
    };
    accountId = (await platform.accounts.register({ login: newLogin(), password: 'correct horse battery' })).id;
    for (let i = 0; i < 5; i += 1)
      await platform.accounts.register({ login: newLogin(), password: 'correct horse battery' });
  });

  afterAll(async () => {
    await running.stop();
  });

  it('refuses calls without a token, with a bad token, and with a merchant token', async () => {
    const none = await api('/tree-head', { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="notary"');
    expect(none.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const bad = await api('/tree-head', { token: 'not-a-token' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    // A registry:write token cannot read.
    const wrongScope = await api('/tree-head', { token: writeToken });
    expect(wrongScope.status).toBe(403);
    expect(wrongScope.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
    // A merchant cannot obtain notary scopes at all.
    const merchant = await addMerchant(running.platform);
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    await expect(oidc.clientCredentialsGrant(config, { scope: 'audit:read' })).rejects.toBeDefined();
  });

  it('serves a signed tree head that verifies with the published keys, and its checkpoint', async () => {
    const keys = await api('/keys', { token: null });
    expect(keys.status).toBe(200);
    expect(keys.body.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(keys.body.keys[0].d).toBeUndefined();
    expect(keys.body.checkpoint_verifier_keys[0]).toMatch(/^127\.0\.0\.1:\d+\/audit\+[0-9a-f]{8}\+/);
    const head = (await api('/tree-head')).body;
    expect(head.tree_size).toBeGreaterThanOrEqual(6);
    expect(head.root_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await verifyTreeHead(head, keys.body)).toBe(true);
    expect(await verifyTreeHead({ ...head, tree_size: head.tree_size + 1 }, keys.body)).toBe(false);
    expect(head.checkpoint).toContain(
      `\n${head.tree_size}\n${Buffer.from(head.root_hash, 'hex').toString('base64')}\n`,
    );
  });

  it('finds the events of an account, and proves each is in the signed tree', async () => {
    const { status, body } = await api('/events/search', { body: { account: accountId } });
    expect(status).toBe(200);
    expect(body.events).toHaveLength(1);
    const [event] = body.events;
    expect(event).toMatchObject({
      type: 'account.registered',
      subjects: { account: accountId },
      payload: { login_type: 'email' },
    });
    const leaf = (await api(`/leaves/${event.leaf_index}`)).body.leaf;
    expect(leafHash(Buffer.from(leaf)).toString('hex')).toBe(event.leaf_hash);
    const head = (await api('/tree-head')).body;
    const proof = (await api(`/proofs/inclusion?leaf_index=${event.leaf_index}&tree_size=${head.tree_size}`)).body;
    expect(verifyLeafInclusion(leaf, event.leaf_index, head, proof.audit_path)).toBe(true);
    expect(verifyLeafInclusion(leaf.replace('email', 'phone'), event.leaf_index, head, proof.audit_path)).toBe(false);
  });

  it('pages through events by type with a cursor, in leaf order, without repeats', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const { body } = await api('/events/search', {
        body: { types: ['account.registered'], limit: 2, ...(cursor ? { cursor } : {}) },
      });
      seen.push(...body.events.map((e: { leaf_index: number }) => e.leaf_index));
      cursor = body.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(6);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it('proves the log only grew between two heads', async () => {
    const first = (await api('/tree-head')).body;
    await running.platform.accounts.register({ login: newLogin(), password: 'correct horse battery' });
    // A read within the head interval gets the same head; the scheduler signs the next one.
    expect((await api('/tree-head')).body).toEqual(first);
    await running.platform.treeHeads.publish();
    const second = (await api('/tree-head')).body;
    expect(second.tree_size).toBeGreaterThan(first.tree_size);
    const { body } = await api(`/proofs/consistency?first=${first.tree_size}&second=${second.tree_size}`);
    expect(verifyHeadsConsistent(first, second, body.proof)).toBe(true);
    const proof = body.proof.map((h: string) => Buffer.from(h, 'hex'));
    expect(
      verifyConsistency(
        first.tree_size,
        second.tree_size,
        proof,
        Buffer.alloc(32),
        Buffer.from(second.root_hash, 'hex'),
      ),
    ).toBe(false);
  });

  it('audits every notary read, naming the notary', async () => {
    await running.platform.audit.integrateAll();
    const before = await running.platform.audit.size();
    const asked = await api('/events/search', { body: { account: accountId } });
    const { body } = await api('/events/search', {
      body: { types: ['notary.queried'], merchant: notaryId, limit: 200 },
    });
    const own = body.events.filter((e: { leaf_index: number }) => e.leaf_index >= before);
    expect(own[0]).toMatchObject({
      type: 'notary.queried',
      actor: { type: 'notary', id: notaryId },
      subjects: { client: notaryId, account: accountId },
      payload: { endpoint: 'events/search', filters: { account: accountId }, results: asked.body.events.length },
    });
  });

  it('issues an evidence bundle that verifies offline, and fails when tampered', async () => {
    const { body: search } = await api('/events/search', { body: { types: ['account.registered'], limit: 3 } });
    const indices = search.events.map((e: { leaf_index: number }) => e.leaf_index);
    const { status, body: bundle } = await api('/evidence', { body: { leaf_indices: indices } });
    expect(status).toBe(200);
    const keys = (await api('/keys', { token: null })).body;
    const report = await verifyEvidenceBundle(bundle as EvidenceBundle, keys);
    expect(report).toMatchObject({ ok: true, errors: [] });
    expect(bundle.events.map((e: { leaf_index: number }) => e.leaf_index)).toEqual(indices);

    const edited = structuredClone(bundle);
    edited.events[0].leaf = edited.events[0].leaf.replace('"email"', '"phone"');
    expect((await verifyEvidenceBundle(edited, keys)).ok).toBe(false);
    const resigned = { ...structuredClone(bundle), issued_at: bundle.issued_at + 1 };
    expect((await verifyEvidenceBundle(resigned, keys)).errors).toContain('the bundle signature does not verify');
    const foreign = { keys: [{ ...keys.keys[0], x: Buffer.alloc(32, 7).toString('base64url') }] };
    expect((await verifyEvidenceBundle(bundle, foreign)).ok).toBe(false);

    // A notary's offline check, from files, with no platform database at hand.
    const dir = await mkdtemp(join(tmpdir(), 'rn-evidence-'));
    try {
      await writeFile(join(dir, 'bundle.json'), JSON.stringify(bundle));
      await writeFile(join(dir, 'edited.json'), JSON.stringify(edited));
      await writeFile(join(dir, 'keys.json'), JSON.stringify(keys));
      const offline = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
      const good = await runCli(
        ['audit', 'verify-bundle', join(dir, 'bundle.json'), '--keys', join(dir, 'keys.json')],
        offline,
      );
      expect(good.code).toBe(0);
      expect(good.stdout).toMatch(/VERIFIED/);
      const bad = await runCli(
        ['audit', 'verify-bundle', join(dir, 'edited.json'), '--keys', join(dir, 'keys.json'), '--json'],
        offline,
      );
      expect(bad.code).toBe(1);
      expect(JSON.parse(bad.stdout).errors[0]).toMatch(/inclusion proof/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('accepts offline registrations record by record, idempotently, and finds them by person', async () => {
    const records = [
      {
        external_id: 'BJ-2026-0001',
        document_type: 'cn_resident_id',
        document_number: ID,
        name: '张三',
        verified_at: '2026-11-20T09:30:00+08:00',
      },
      {
        external_id: 'BJ-2026-0002',
        document_type: 'cn_resident_id',
        document_number: '110105194912310021',
        name: '李四',
        verified_at: '2026-11-20T09:30:00+08:00',
      },
      {
        external_id: 'BJ-2026-0003',
        document_type: 'passport',
        document_number: 'E12345678',
        name: '',
        verified_at: '2026-11-20T09:30:00+08:00',
      },
    ];
    const first = await api('/registrations', { token: writeToken, body: { records } });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ accepted: 1, unchanged: 0, rejected: 2 });
    expect(first.body.results[1]).toMatchObject({
      index: 1,
      external_id: 'BJ-2026-0002',
      status: 'rejected',
      errors: [{ field: 'document_number', code: 'checksum' }],
    });
    expect(first.body.results[2].errors[0].field).toBe('name');
    expect(JSON.stringify(first.body)).not.toContain('110105194912310021');

    const again = await api('/registrations', { token: writeToken, body: { records: [records[0]] } });
    expect(again.body).toMatchObject({ accepted: 0, unchanged: 1, rejected: 0 });
    const changed = await api('/registrations', {
      token: writeToken,
      body: { records: [{ ...records[0], name: '王五' }] },
    });
    expect(changed.body.results[0]).toMatchObject({ status: 'rejected', errors: [{ code: 'conflict' }] });
    expect(Number((await running.platform.db('offline_registrations').count({ n: '*' }).first())!.n)).toBe(1);

    // Found by the person's document, written in any normal form.
    const { body } = await api('/events/search', {
      body: {
        person: { document_type: 'cn_resident_id', document_number: '110105 19491231 002x' },
        types: ['registry.uploaded'],
      },
    });
    expect(body.events).toHaveLength(1);
    const [key] = await running.platform.keys.secrets(BLIND_INDEX_KEY.purpose);
    expect(body.events[0].subjects.person).toBe(personIndex(key!, 'cn_resident_id', ID));
    expect(JSON.stringify(body)).not.toMatch(/张三|11010519491231002X/);
    // Stored encrypted.
    const row = await running.platform.db('offline_registrations').first();
    expect(JSON.stringify(row)).not.toMatch(/张三|11010519491231002X/);

    // An audit:read token cannot upload.
    expect((await api('/registrations', { body: { records } })).status).toBe(403);
  });

  it('answers bad input with problem+json and writes nothing', async () => {
    // Committed by the tests before: integrated now, so that nothing below has anything to move.
    await running.platform.audit.integrateAll();
    const size = await running.platform.audit.size();
    const cases: Array<[string, Parameters<typeof api>[1], number]> = [
      ['/events/search', { body: '{"account": ' }, 400],
      ['/events/search', { body: { limit: 100000 } }, 400],
      ['/events/search', { body: { types: ['made.up'] } }, 400],
      ['/events/search', { body: { cursor: '!!!' } }, 400],
      ['/events/search', { body: { person: { document_type: 'cn_resident_id', document_number: '123' } } }, 400],
      ['/events/search', { body: { surprise: 1 } }, 400],
      ['/events/search', { body: [] }, 400],
      ['/events/search', { method: 'POST' }, 400],
      ['/events/search', { body: 'account=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415],
      ['/events/search', { body: { account: 'a'.repeat(20_000) } }, 413],
      ['/leaves/-1', {}, 400],
      ['/leaves/1e3', {}, 400],
      ['/leaves/0x10', {}, 400],
      ['/leaves/99999999', {}, 404],
      ['/proofs/inclusion?leaf_index=5&tree_size=5', {}, 400],
      ['/proofs/inclusion?leaf_index=0&tree_size=99999999', {}, 400],
      ['/proofs/inclusion?leaf_index=0&tree_size=1&tree_size=2', {}, 400],
      ['/proofs/consistency?first=3&second=2', {}, 400],
      ['/evidence', { body: { leaf_indices: [] } }, 400],
      ['/evidence', { body: { leaf_indices: [99999999] } }, 400],
      ['/registrations', { token: writeToken, body: { records: 'all of them' } }, 400],
    ];
    for (const [path, init, status] of cases) {
      const response = await api(path, init);
      expect({ path, init, status: response.status }).toEqual({ path, init, status });
      expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(response.body.type).toMatch(/^urn:realname:problem:/);
    }
    expect(await running.platform.audit.size()).toBe(size);
    expect(await running.platform.audit.queued()).toBe(0);
  });

  it('serves proofs that match an independent check of the stored leaves', async () => {
    const head = (await api('/tree-head')).body;
    for (const index of [0, Math.floor(head.tree_size / 2), head.tree_size - 1]) {
      const leaf = (await api(`/leaves/${index}`)).body.leaf;
      const path = (await api(`/proofs/inclusion?leaf_index=${index}&tree_size=${head.tree_size}`)).body.audit_path;
      expect(
        verifyInclusion(
          leafHash(Buffer.from(leaf)),
          index,
          head.tree_size,
          path.map((h: string) => Buffer.from(h, 'hex')),
          Buffer.from(head.root_hash, 'hex'),
        ),
      ).toBe(true);
    }
  });
});

describe('the notary API description', () => {
  it('is served, and documents exactly the routes the platform has', async () => {
    const { parse } = await import('yaml');
    const { notaryRoutes } = await import('../../src/notary/routes/index.js');
    const running = await startTestPlatform();
    try {
      const response = await fetch(`${running.issuer}/api/notary/openapi.yaml`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/yaml/);
      const spec = parse(await response.text());
      expect(spec.openapi).toMatch(/^3\.1/);
      const documented = Object.entries(spec.paths as Record<string, Record<string, unknown>>)
        .flatMap(([path, ops]) =>
          Object.keys(ops)
            .filter((k) => ['get', 'post', 'put', 'delete', 'patch'].includes(k))
            .map((m) => `${m.toUpperCase()} ${path}`),
        )
        .sort();
      const router = notaryRoutes({
        ...({} as Parameters<typeof notaryRoutes>[0]),
        tokens: running.platform.apiTokens,
      });
      const served = router.stack
        .flatMap((layer) =>
          layer.methods
            .filter((m) => m !== 'HEAD')
            .map(
              (m) =>
                `${m} ${String(layer.path)
                  .replace('/api/notary', '')
                  .replace(/:(\w+)/g, '{$1}')}`,
            ),
        )
        .filter((route) => !route.endsWith('/openapi.yaml'))
        .sort();
      expect(documented).toEqual(served);
    } finally {
      await running.stop();
    }
  });
});
