import * as oidc from 'openid-client';
import { discover, newLogin } from '../helpers/merchant.js';
import { responseSchemaPath, schemaErrors } from '../helpers/notary-openapi.js';
import { startTestPlatform } from '../helpers/platform.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

// The request schemas of docs/notary-openapi.yaml are generated from the routes' zod schemas;
// the answers are described by hand. This holds the platform's real answers to them.
describe('the notary API’s answers', () => {
  let running: Running;
  let tokens: { read: string; write: string };

  /** Calls the API and returns the answer after checking it against the document. */
  async function call(
    path: string,
    documented: string,
    init: { method?: string; body?: unknown; token?: string | null } = {},
  ) {
    const token = init.token === undefined ? tokens.read : init.token;
    const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
    const response = await fetch(`${running.issuer}/api/notary${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const body = (await response.json()) as any;
    const mediaType = response.headers.get('content-type')!.split(';')[0]!;
    const where = responseSchemaPath(documented, method.toLowerCase(), response.status, mediaType);
    expect({ [`${method} ${path} ${response.status}`]: schemaErrors(body, ...where) }).toEqual({
      [`${method} ${path} ${response.status}`]: [],
    });
    return { status: response.status, body };
  }

  beforeAll(async () => {
    running = await startTestPlatform();
    const { platform, issuer } = running;
    const notary = await platform.clients.add({ name: 'Notary of the description test', kind: 'notary' });
    const config = await discover(issuer, notary.client_id, notary.client_secret);
    tokens = {
      read: (await oidc.clientCredentialsGrant(config, { scope: 'audit:read' })).access_token,
      write: (await oidc.clientCredentialsGrant(config, { scope: 'registry:write' })).access_token,
    };
    for (let i = 0; i < 3; i += 1)
      await platform.accounts.register({ login: newLogin(), password: 'correct horse battery' });
  });

  afterAll(async () => {
    await running?.stop();
  });

  it('match the schemas the document gives for them, errors included', async () => {
    const upload = await call('/registrations', '/registrations', {
      token: tokens.write,
      body: {
        records: [
          {
            external_id: 'DOC-1',
            document_type: 'cn_resident_id',
            document_number: '11010519491231002X',
            name: '张三',
            verified_at: '2026-11-20T09:30:00+08:00',
          },
          { external_id: 'DOC-2', document_type: 'passport', document_number: 'E12345678', name: '' },
        ],
      },
    });
    expect(upload.body).toMatchObject({ accepted: 1, rejected: 1 });

    const search = await call('/events/search', '/events/search', { body: { limit: 2 } });
    expect(search.body.next_cursor).not.toBeNull();
    await call('/events/search', '/events/search', { body: { cursor: search.body.next_cursor } });
    await call('/events/search', '/events/search', {
      body: { person: { document_type: 'cn_resident_id', document_number: '11010519491231002X' } },
    });
    await call('/leaves/0', '/leaves/{index}');
    const head = await call('/tree-head', '/tree-head');
    const size = head.body.tree_size as number;
    await call(`/proofs/inclusion?leaf_index=0&tree_size=${size}`, '/proofs/inclusion');
    await call(`/proofs/consistency?first=1&second=${size}`, '/proofs/consistency');
    await call('/keys', '/keys', { token: null });
    await call('/evidence', '/evidence', { body: { leaf_indices: [1, 0] } });

    // Errors: problem+json as described.
    expect((await call('/events/search', '/events/search', { body: { limit: 100000 } })).status).toBe(400);
    expect((await call('/leaves/x', '/leaves/{index}')).status).toBe(400);
    expect((await call('/leaves/99999999', '/leaves/{index}')).status).toBe(404);
    expect((await call('/tree-head', '/tree-head', { token: null })).status).toBe(401);
    expect((await call('/tree-head', '/tree-head', { token: tokens.write })).status).toBe(403);
    expect((await call('/evidence', '/evidence', { body: { leaf_indices: [99999999] } })).status).toBe(400);
  });
});
