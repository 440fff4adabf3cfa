import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { AuditLeaf } from '../audit/events.js';
import type { AuditLog, EventRow } from '../audit/log.js';
import { AUDIT_TREE_HEAD_KEY, type TreeHeads } from '../audit/tree-heads.js';
import { bundlePayload, EVIDENCE_FORMAT, type EvidenceBundle } from '../audit/verify.js';
import { InvalidInput, NotFound } from '../errors.js';
import { parseBody, parseQuery, requireJson } from '../http/input.js';
import { personIndex } from '../identity/blind-index.js';
import { checkDocumentNumber } from '../identity/document-number.js';
import type { KeyService } from '../keys/service.js';
import { clientToken, type ClientPrincipal } from '../http/client-token.js';
import type { Registry } from './registry.js';
import { consistencyQuery, evidenceRequest, inclusionQuery, index, searchSchema } from './schemas.js';

export interface NotaryDeps {
  issuer: string;
  provider: Provider;
  audit: AuditLog;
  treeHeads: TreeHeads;
  keys: KeyService;
  registry: Registry;
  /** The blind-index key (see identity/blind-index.ts). */
  blindIndexKey: string;
  /** How old (ms) a tree head may be before a read signs a new one. */
  headInterval: number;
}

/** An event as the API shows it: the leaf's fields plus its hash. */
function toApiEvent(row: EventRow) {
  const leaf = JSON.parse(row.leaf) as AuditLeaf;
  return {
    leaf_index: Number(row.leaf_index),
    time: leaf.time,
    type: leaf.type,
    actor: leaf.actor,
    subjects: leaf.subjects,
    payload: leaf.payload,
    leaf_hash: row.leaf_hash.toString('hex'),
  };
}

const hexList = (hashes: Buffer[]) => hashes.map((h) => h.toString('hex'));

/**
 * The API of notary and authority bodies (docs/notary-api.md). Every call is authenticated by
 * a client_credentials token and is itself recorded in the audit trail (`notary.queried`) before
 * the answer leaves: a read that cannot be audited is not answered.
 */
export function notaryRoutes(deps: NotaryDeps): Router {
  const { audit, treeHeads } = deps;
  const router = new Router({ prefix: '/api/notary' });
  const readToken = clientToken(deps.provider, { scope: 'audit:read', kind: 'notary', realm: 'notary' });
  // A notary reads every event committed so far: what waits in the queue is integrated first.
  const read = (ctx: Context, next: Next) =>
    readToken(ctx, async () => {
      await audit.integrateAll();
      return next();
    });
  const write = clientToken(deps.provider, { scope: 'registry:write', kind: 'notary', realm: 'notary' });

  const audited = async (
    ctx: Context,
    endpoint: string,
    details: { filters?: Record<string, unknown>; results?: number; person?: string; account?: string },
  ) => {
    const notary = ctx.state.client as ClientPrincipal;
    await audit.record({
      type: 'notary.queried',
      actor: { type: 'notary', id: notary.clientId },
      subjects: {
        client: notary.clientId,
        ...(details.person ? { person: details.person } : {}),
        ...(details.account ? { account: details.account } : {}),
      },
      payload: {
        endpoint,
        ...(details.filters ? { filters: details.filters } : {}),
        ...(details.results !== undefined ? { results: details.results } : {}),
      },
    });
  };

  /** The current tree size, checked against a size the caller asked about. */
  const checkSize = async (field: string, requested: number) => {
    const current = await audit.size();
    if (requested > current) {
      throw new InvalidInput([{ field, code: 'too_big', message: `the log has ${current} leaves` }]);
    }
  };

  router.post('/events/search', read, requireJson, async (ctx) => {
    const query = parseBody(ctx, searchSchema);
    let person: string | undefined;
    if (query.person) {
      const checked = checkDocumentNumber(query.person.document_type, query.person.document_number);
      if (!checked.ok)
        throw new InvalidInput([{ field: 'person.document_number', code: checked.code, message: checked.message }]);
      person = personIndex(deps.blindIndexKey, checked.type, checked.number);
    }
    const rows = await audit.search(
      {
        person,
        account: query.account,
        client: query.merchant,
        types: query.types,
        from: query.from ? new Date(query.from) : undefined,
        to: query.to ? new Date(query.to) : undefined,
        after: query.cursor,
      },
      query.limit + 1,
    );
    const page = rows.slice(0, query.limit);
    const more = rows.length > query.limit;
    // What was asked, without identity data: the person appears only as the event's subject.
    const filters = {
      ...(person ? { person: true } : {}),
      ...(query.account ? { account: query.account } : {}),
      ...(query.merchant ? { merchant: query.merchant } : {}),
      ...(query.types ? { types: query.types } : {}),
      ...(query.from ? { from: query.from } : {}),
      ...(query.to ? { to: query.to } : {}),
    };
    await audited(ctx, 'events/search', { filters, results: page.length, person, account: query.account });
    ctx.body = {
      events: page.map(toApiEvent),
      next_cursor: more ? Buffer.from(String(page.at(-1)!.leaf_index)).toString('base64url') : null,
    };
  });

  router.get('/leaves/:index', read, async (ctx) => {
    const leafIndex = index.safeParse(ctx.params.index);
    if (!leafIndex.success)
      throw new InvalidInput([{ field: 'index', code: 'invalid', message: 'a leaf index: 0, 1, 2, …' }]);
    const row = await audit.event(leafIndex.data);
    if (!row) throw new NotFound(`There is no leaf ${leafIndex.data}.`);
    await audited(ctx, 'leaves', { filters: { leaf_index: leafIndex.data }, results: 1 });
    ctx.body = { leaf_index: Number(row.leaf_index), leaf: row.leaf };
  });

  router.get('/tree-head', read, async (ctx) => {
    const head = await treeHeads.latest({ maxAge: deps.headInterval });
    await audited(ctx, 'tree-head', { results: 1 });
    ctx.body = head;
  });

  router.get('/proofs/inclusion', read, async (ctx) => {
    const q = parseQuery(ctx, inclusionQuery);
    if (q.leaf_index >= q.tree_size)
      throw new InvalidInput([{ field: 'leaf_index', code: 'too_big', message: 'must be below tree_size' }]);
    await checkSize('tree_size', q.tree_size);
    const proof = await audit.inclusionProof(q.leaf_index, q.tree_size);
    await audited(ctx, 'proofs/inclusion', { filters: q, results: 1 });
    ctx.body = { leaf_index: q.leaf_index, tree_size: q.tree_size, audit_path: hexList(proof) };
  });

  router.get('/proofs/consistency', read, async (ctx) => {
    const q = parseQuery(ctx, consistencyQuery);
    if (q.first > q.second)
      throw new InvalidInput([{ field: 'first', code: 'too_big', message: 'must not exceed second' }]);
    await checkSize('second', q.second);
    const proof = await audit.consistencyProof(q.first, q.second);
    await audited(ctx, 'proofs/consistency', { filters: q, results: 1 });
    ctx.body = { first: q.first, second: q.second, proof: hexList(proof) };
  });

  // The tree-head keys are public: a notary fetches them once and keeps them.
  // The API's own description (OpenAPI 3.1), public like the keys.
  const openapi = readFileSync(resolve(process.cwd(), 'docs', 'notary-openapi.yaml'));
  router.get('/openapi.yaml', (ctx) => {
    ctx.type = 'application/yaml';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = openapi;
  });

  router.get('/keys', async (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    const keys = await deps.keys.publicJwksEver(AUDIT_TREE_HEAD_KEY.purpose);
    ctx.body = { keys, checkpoint_verifier_keys: treeHeads.verifierKeys(keys) };
  });

  router.post('/evidence', read, requireJson, async (ctx) => {
    const { leaf_indices } = parseBody(ctx, evidenceRequest);
    const wanted = [...new Set(leaf_indices)].sort((a, b) => a - b);
    const rows = await audit.events(wanted);
    const missing = wanted.filter((i) => !rows.some((r) => Number(r.leaf_index) === i));
    if (missing.length)
      throw new InvalidInput([
        { field: 'leaf_indices', code: 'not_found', message: `no such leaves: ${missing.slice(0, 10).join(', ')}` },
      ]);
    const head = await treeHeads.latest({ maxAge: deps.headInterval, covering: wanted.at(-1)! + 1 });
    const events = [];
    for (const row of rows) {
      events.push({
        leaf_index: Number(row.leaf_index),
        leaf: row.leaf,
        audit_path: hexList(await audit.inclusionProof(Number(row.leaf_index), head.tree_size)),
      });
    }
    const unsigned = {
      format: EVIDENCE_FORMAT,
      issuer: deps.issuer,
      issued_at: Date.now(),
      tree_head: head,
      keys: { keys: await deps.keys.publicJwksEver(AUDIT_TREE_HEAD_KEY.purpose) },
      events,
    } satisfies Omit<EvidenceBundle, 'signature'>;
    const bundle: EvidenceBundle = {
      ...unsigned,
      signature: await treeHeads.sign(bundlePayload(unsigned), 'evidence+json'),
    };
    await audited(ctx, 'evidence', { filters: { leaf_indices: wanted }, results: events.length });
    ctx.body = bundle;
  });

  router.post('/registrations', write, requireJson, async (ctx) => {
    const notary = ctx.state.client as ClientPrincipal;
    const body = (ctx.request as { body?: unknown }).body;
    const result = await deps.registry.upload(notary.clientId, body);
    await audited(ctx, 'registrations', {
      results: result.accepted,
      filters: { records: result.results.length, unchanged: result.unchanged, rejected: result.rejected },
    });
    ctx.body = result;
  });

  return router;
}
