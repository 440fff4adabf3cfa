// The notary router: each address of the notary API, its guard, and the module that answers it.
import Router from '@koa/router';
import { requireJson } from '../../http/input.js';
import { bundleEvidence } from './evidence.js';
import { readLeaf, searchEvents } from './events.js';
import { serveOpenapi } from './openapi.js';
import { proveConsistency, proveInclusion } from './proofs.js';
import { notaryGuards, type NotaryDeps } from './query.js';
import { uploadRegistrations } from './registrations.js';
import { readTreeHead, readTreeHeadKeys } from './tree-heads.js';

export type { NotaryDeps } from './query.js';

/**
 * The API of notary and authority bodies (docs/notary-api.md). Every call is authenticated by
 * a client_credentials token and is itself recorded in the audit trail (`notary.queried`) before
 * the answer leaves: a read that cannot be audited is not answered.
 */
export function notaryRoutes(deps: NotaryDeps): Router {
  const router = new Router({ prefix: '/api/notary' });
  const { read, write } = notaryGuards(deps);
  router.post('/events/search', read, requireJson, searchEvents(deps));
  router.get('/leaves/:index', read, readLeaf(deps));
  router.get('/tree-head', read, readTreeHead(deps));
  router.get('/proofs/inclusion', read, proveInclusion(deps));
  router.get('/proofs/consistency', read, proveConsistency(deps));
  // The API's description and the tree-head keys are public.
  router.get('/openapi.yaml', serveOpenapi());
  router.get('/keys', readTreeHeadKeys(deps));
  router.post('/evidence', read, requireJson, bundleEvidence(deps));
  router.post('/registrations', write, requireJson, uploadRegistrations(deps));
  return router;
}
