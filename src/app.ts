import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { accountRoutes } from './account/routes.js';
import type { AccountService } from './accounts/service.js';
import type { AuditLog } from './audit/log.js';
import type { Db } from './db/index.js';
import type { ClientService } from './clients/service.js';
import { auditReleases } from './grants/releases.js';
import type { GrantService } from './grants/service.js';
import { checkRoutes } from './identity/routes.js';
import type { VerificationService } from './identity/service.js';
import type { Config } from './config/schema.js';
import { PlatformError } from './errors.js';
import { errorHandler } from './http/errors.js';
import { byteSize, isWellFormedForm } from './http/input.js';
import { localeOf } from './http/locale.js';
import type { Views } from './http/views.js';
import { interactionRoutes } from './interactions/routes.js';
import { notaryRoutes, type NotaryDeps } from './notary/routes.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  views: Views;
  provider: Provider;
  accounts: AccountService;
  clients: ClientService;
  verifications: VerificationService;
  grants: GrantService;
  db: Db;
  log: AuditLog;
  cookieKeys: string[];
  notary: NotaryDeps;
}

function requestId(ctx: Context, next: Next) {
  ctx.state.requestId = randomUUID();
  ctx.set('X-Request-Id', ctx.state.requestId);
  return next();
}

// Baseline headers for every response; oidc-provider's responses pass through here too.
function securityHeaders(ctx: Context, next: Next) {
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Frame-Options', 'DENY');
  return next();
}

/** Assembles the HTTP application: middleware in order, our routers, then oidc-provider. */
export function buildApp(deps: AppDeps): Koa {
  const { config, views, provider } = deps;
  const app = new Koa({ proxy: config.trustProxy });
  app.silent = true; // errors are logged by errorHandler, once, with the request id
  // oidc-provider runs on this app's context once mounted, so its signed cookies use these keys.
  app.keys = deps.cookieKeys;

  const forms = bodyParser({ enableTypes: ['form'], formLimit: config.bodyLimit, encoding: 'utf-8' });
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: config.bodyLimit, encoding: 'utf-8' });
  const interactions = interactionRoutes({
    provider,
    accounts: deps.accounts,
    grants: deps.grants,
    verifications: deps.verifications,
    views,
    maxImageBytes: config.verification.maxImageBytes,
  });
  const notary = notaryRoutes(deps.notary);
  const checks = checkRoutes({ provider, clients: deps.clients, verifications: deps.verifications });
  const account = accountRoutes({
    issuer: config.issuer,
    provider,
    views,
    verifications: deps.verifications,
    grants: deps.grants,
    clients: deps.clients,
    maxImageBytes: config.verification.maxImageBytes,
  });

  const pages = new Router();
  const stylesheet = readFileSync(resolve(process.cwd(), 'public', 'app.css'));
  pages.get('/assets/app.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = stylesheet;
  });
  pages.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.body = views.render('home', localeOf(ctx), { issuer: config.issuer });
  });

  app.use(requestId);
  app.use(securityHeaders);
  app.use(errorHandler(views, deps.logger));
  // Verification uploads carry two photos; everything else is small.
  const uploadLimit = 2 * config.verification.maxImageBytes + 64 * 1024;
  app.use(declaredBodyLimit(byteSize(config.bodyLimit), { uploads: /^\/(account|interaction\/[^/]+)\/verify$/, uploadLimit }));
  app.use(mountRouter(interactions, forms));
  app.use(mountRouter(notary, json));
  app.use(mountRouter(checks, json));
  app.use(mountRouter(account));
  app.use(mountRouter(pages));
  app.use(auditReleases(deps.db, deps.log, deps.verifications));
  app.use(mount(provider));
  return app;
}

/**
 * Refuses a body whose declared length is over the limit before anything reads it: our own
 * parsers enforce the limit as they read, but oidc-provider's allows 56 KiB whatever we configure.
 */
function declaredBodyLimit(limit: number, verification: { uploads: RegExp; uploadLimit: number }) {
  return (ctx: Context, next: Next) => {
    const allowed = verification.uploads.test(ctx.path) ? verification.uploadLimit : limit;
    if ((ctx.request.length ?? 0) > allowed) throw new PlatformError('payload-too-large', 413, `The request body is larger than ${allowed} bytes.`);
    return next();
  };
}

/** A router's routes, with the body parser applied only to requests that match them. */
function mountRouter(router: Router, bodyParse?: Koa.Middleware) {
  const routes = router.routes();
  const allowed = router.allowedMethods();
  return async (ctx: Context, next: Next) => {
    if (!router.match(ctx.path, ctx.method).route) return next();
    if (bodyParse) {
      await bodyParse(ctx, async () => {});
      // qs keeps a field whose percent-encoding is not UTF-8 as raw text; refuse it instead.
      const raw = (ctx.request as { rawBody?: string }).rawBody;
      if (raw && ctx.is('urlencoded') && !isWellFormedForm(raw)) throw new PlatformError('malformed-request', 400, 'The form is not valid UTF-8 percent-encoding.');
    }
    return routes(ctx as never, () => allowed(ctx as never, next));
  };
}
