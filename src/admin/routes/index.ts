// The admin API (docs/admin-openapi.yaml): each address, its guard, and the AdminService
// operation that answers it. The CLI's `--url` mode calls exactly these (src/cli/remote.ts).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { ClientService } from '../../clients/service.js';
import type { ApiTokens } from '../../http/client-token.js';
import type { ProofLedger } from '../../http/dpop.js';
import { requireJson } from '../../http/input.js';
import type { OperatorService } from '../../operators/service.js';
import type { AdminService } from '../service.js';
import { operatorOf, operatorToken } from './guard.js';

export interface AdminRouteDeps {
  /** The client_credentials tokens of the platform's APIs. */
  tokens: ApiTokens;
  proofs: ProofLedger;
  clients: ClientService;
  operators: OperatorService;
  admin: AdminService;
}

const body = (ctx: Context) => (ctx.request as { body?: unknown }).body;

export function adminRoutes(deps: AdminRouteDeps): Router {
  const { admin } = deps;
  const router = new Router({ prefix: '/api/admin' });
  const operator = operatorToken(deps);
  const openapi = readFileSync(resolve(process.cwd(), 'docs', 'admin-openapi.yaml'));
  router.get('/openapi.yaml', (ctx) => {
    ctx.type = 'application/yaml';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = openapi;
  });

  router.get('/clients', operator, async (ctx) => {
    ctx.body = await admin.listClients();
  });
  router.post('/clients', operator, requireJson, async (ctx) => {
    ctx.body = await admin.addClient(body(ctx), operatorOf(ctx));
    ctx.status = 201;
  });
  router.get('/clients/:client_id', operator, async (ctx) => {
    ctx.body = await admin.showClient(ctx.params.client_id);
  });
  router.patch('/clients/:client_id', operator, requireJson, async (ctx) => {
    ctx.body = await admin.updateClient(ctx.params.client_id, body(ctx), operatorOf(ctx));
  });
  router.delete('/clients/:client_id', operator, async (ctx) => {
    ctx.body = await admin.deleteClient(ctx.params.client_id, operatorOf(ctx));
  });
  router.post('/clients/:client_id/disable', operator, async (ctx) => {
    ctx.body = await admin.setClientDisabled(ctx.params.client_id, true, operatorOf(ctx));
  });
  router.post('/clients/:client_id/enable', operator, async (ctx) => {
    ctx.body = await admin.setClientDisabled(ctx.params.client_id, false, operatorOf(ctx));
  });
  router.post('/clients/:client_id/secret', operator, async (ctx) => {
    ctx.body = await admin.rotateClientSecret(ctx.params.client_id, operatorOf(ctx));
  });
  router.put('/clients/:client_id/keys', operator, requireJson, async (ctx) => {
    ctx.body = await admin.replaceClientKeys(ctx.params.client_id, body(ctx), operatorOf(ctx));
  });

  router.post('/keys/rotate', operator, requireJson, async (ctx) => {
    ctx.body = await admin.rotateKeys(body(ctx), operatorOf(ctx));
  });
  router.get('/costs', operator, async (ctx) => {
    ctx.body = await admin.costs({ ...ctx.query });
  });
  router.post('/selfcheck', operator, requireJson, async (ctx) => {
    ctx.body = await admin.selfcheck(body(ctx), operatorOf(ctx));
  });
  router.post('/audit/verify', operator, requireJson, async (ctx) => {
    ctx.body = await admin.verifyAudit(body(ctx), operatorOf(ctx));
  });

  // Accounts are named by their login, personal data: in the body, never in a URL.
  router.post('/accounts/disable', operator, requireJson, async (ctx) => {
    ctx.body = await admin.disableAccount(body(ctx), operatorOf(ctx));
  });
  router.post('/accounts/enable', operator, requireJson, async (ctx) => {
    ctx.body = await admin.enableAccount(body(ctx), operatorOf(ctx));
  });
  router.post('/accounts/sessions/end', operator, requireJson, async (ctx) => {
    ctx.body = await admin.endSessions(body(ctx));
  });
  router.post('/security-log', operator, requireJson, async (ctx) => {
    ctx.body = await admin.securityLog(body(ctx));
  });
  router.get('/security-events', operator, async (ctx) => {
    ctx.body = await admin.securityEvents({ ...ctx.query });
  });

  router.get('/operators', operator, async (ctx) => {
    ctx.body = await admin.listOperators();
  });
  // Logins are personal data: in the body, never in a URL (which proxies and logs keep).
  router.post('/operators', operator, requireJson, async (ctx) => {
    ctx.body = await admin.addOperator(body(ctx), operatorOf(ctx));
  });
  router.post('/operators/remove', operator, requireJson, async (ctx) => {
    ctx.body = await admin.removeOperator(body(ctx), operatorOf(ctx));
  });
  return router;
}
