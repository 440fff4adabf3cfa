import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { accountRoutes } from './my-account/routes/index.js';
import type { AccountService } from './accounts/service.js';
import type { ClientService } from './clients/service.js';
import type { ReleaseAudit } from './grants/releases.js';
import type { DossierService } from './grants/dossier.js';
import { auditReleases, dossierRoutes } from './grants/routes.js';
import type { GrantService } from './grants/service.js';
import type { PasskeyService } from './passkeys/service.js';
import { checkRoutes } from './identity/routes/check-api.js';
import type { VerificationService } from './identity/service.js';
import type { Config } from './config/schema.js';
import { PlatformError } from './errors.js';
import { requireCsrfToken } from './http/csrf.js';
import { errorHandler } from './http/errors.js';
import { healthRoutes, type Health } from './http/health.js';
import { byteSize, isWellFormedForm, requireValidHost } from './http/input.js';
import { localeOf } from './http/locale.js';
import { forwardedHeadersOnlyFrom, pinOriginToIssuer } from './http/origin.js';
import { authorizationRateLimit, tokenRateLimit } from './http/rate-limit.js';
import type { RateLimits } from './rate-limits/service.js';
import type { ApiTokens } from './http/client-token.js';
import type { AccountSessions, SecurityLog } from './security/service.js';
import type { ProofLedger } from './http/dpop.js';
import { trackSessions } from './http/sessions.js';
import { metricsRoutes, type PlatformMetrics } from './http/metrics.js';
import type { Views } from './http/views.js';
import { interactionRoutes } from './interactions/routes/index.js';
import { recoveryRoutes } from './recovery/routes/index.js';
import type { PasswordRecovery } from './recovery/service.js';
import type { AccountClosure } from './data-rights/closure.js';
import type { PersonalData } from './data-rights/service.js';
import { notaryRoutes, type NotaryDeps } from './notary/routes/index.js';
import { consoleRoutes } from './admin/routes/console.js';
import { adminRoutes } from './admin/routes/index.js';
import type { AdminService } from './admin/service.js';
import type { OperatorService } from './operators/service.js';
import { CookieKeys } from './crypto/cookie-keys.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  views: Views;
  provider: Provider;
  /** The client_credentials tokens of the check, notary and admin APIs. */
  apiTokens: ApiTokens;
  /** The DPoP proofs the platform's own resources accepted (src/http/dpop.ts). */
  proofs: ProofLedger;
  accounts: AccountService;
  clients: ClientService;
  verifications: VerificationService;
  grants: GrantService;
  dossier: DossierService;
  passkeys: PasskeyService;
  releases: ReleaseAudit;
  limits: RateLimits;
  securityLog: SecurityLog;
  sessions: AccountSessions;
  recovery: PasswordRecovery;
  personalData: PersonalData;
  closure: AccountClosure;
  cookieKeys: string[];
  metrics: PlatformMetrics;
  health: Health;
  notary: NotaryDeps;
  operators: OperatorService;
  admin: AdminService;
  /** Loads keys rotated and clients changed by another process (src/oidc/live-settings.ts). */
  liveSettings: Koa.Middleware;
}

function requestId(ctx: Context, next: Next) {
  ctx.state.requestId = randomUUID();
  ctx.set('X-Request-Id', ctx.state.requestId);
  return next();
}

/**
 * Pages use no script, no inline style and no frames. `script-src 'self'` rather than 'none':
 * oidc-provider's form_post page appends its inline script's hash to script-src, and 'none' must
 * stand alone in a source list (CSP Level 3 §2.3.1). No `form-action`: Chromium checks it against
 * every redirect that follows a form post, and our sign-in, consent, cancel and logout forms end
 * in a redirect to a merchant's registered redirect URI, on any origin (Chromium 156 with
 * `form-action 'self'` blocks /confirm → /auth → the merchant's callback); oidc-provider's
 * form_post page posts straight to it.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Headers for every response: set before anything runs, so oidc-provider's responses and error
 * pages carry them too. HSTS only over TLS (RFC 6797 §7.2: not over plain HTTP); `ctx.secure`
 * trusts X-Forwarded-Proto only with `trustProxy`.
 */
function securityHeaders(ctx: Context, next: Next) {
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Frame-Options', 'DENY'); // frame-ancestors for browsers without CSP Level 2
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
  // Pages and APIs carry personal data or per-person state: no cache keeps them (RFC 9111 §5.2.2.5).
  // A response that may be cached says so itself (the stylesheet).
  ctx.set('Cache-Control', 'no-store');
  if (ctx.secure) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
  return next();
}

/** Multipart uploads (two photos): a larger body limit, and the CSRF token checked by the route. */
const UPLOADS = /^\/(account\/verify|password-reset\/verify|interaction\/[^/]+\/(verify|step-up))$/;

/** Assembles the HTTP application: middleware in order, our routers, then oidc-provider. */
export function buildApp(deps: AppDeps): Koa {
  const { config, views, provider } = deps;
  // Behind a proxy, the client address is the one the proxy appended (the last X-Forwarded-For
  // entry), never one the client wrote itself: rate limits per IP depend on it. The proxy must be
  // one of `trustedProxies` (forwardedHeadersOnlyFrom).
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: 1 });
  app.silent = true; // errors are logged by errorHandler, once, with the request id
  // oidc-provider runs on this app's context once mounted, so its signed cookies use these keys.
  app.keys = new CookieKeys(deps.cookieKeys);

  // The pages' own posts: forms, and the passkey script's JSON (its CSRF token in a header).
  const pageBodies = bodyParser({
    enableTypes: ['form', 'json'],
    formLimit: config.bodyLimit,
    jsonLimit: config.bodyLimit,
    encoding: 'utf-8',
  });
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: config.bodyLimit, encoding: 'utf-8' });
  const interactions = interactionRoutes({
    provider,
    accounts: deps.accounts,
    grants: deps.grants,
    dossier: deps.dossier,
    verifications: deps.verifications,
    passkeys: deps.passkeys,
    views,
    limits: deps.limits,
    maxImageBytes: config.verification.maxImageBytes,
  });
  const attachments = dossierRoutes(provider, deps.proofs, deps.dossier);
  const notary = notaryRoutes(deps.notary);
  const admin = adminRoutes({
    tokens: deps.apiTokens,
    proofs: deps.proofs,
    clients: deps.clients,
    operators: deps.operators,
    admin: deps.admin,
  });
  const checks = checkRoutes({
    tokens: deps.apiTokens,
    proofs: deps.proofs,
    clients: deps.clients,
    verifications: deps.verifications,
  });
  const account = accountRoutes({
    issuer: config.issuer,
    provider,
    views,
    verifications: deps.verifications,
    grants: deps.grants,
    clients: deps.clients,
    limits: deps.limits,
    accounts: deps.accounts,
    securityLog: deps.securityLog,
    sessions: deps.sessions,
    sessionTtl: config.ttl,
    maxImageBytes: config.verification.maxImageBytes,
    passkeys: deps.passkeys,
    recentSignIn: config.passkeys.recentSignIn,
    personalData: deps.personalData,
    closure: deps.closure,
  });

  const operatorConsole = consoleRoutes({
    provider,
    views,
    admin: deps.admin,
    operators: deps.operators,
    accounts: deps.accounts,
    passkeys: deps.passkeys,
    signInMaxAge: config.adminConsole.signInMaxAge,
  });

  const reset = recoveryRoutes({
    views,
    recovery: deps.recovery,
    limits: deps.limits,
    maxImageBytes: config.verification.maxImageBytes,
  });

  const pages = new Router();
  const stylesheet = readFileSync(resolve(process.cwd(), 'public', 'app.css'));
  pages.get('/assets/app.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = stylesheet;
  });
  // The passkey ceremonies' browser side: a file from this origin, as the CSP allows (no inline script).
  const passkeyScript = readFileSync(resolve(process.cwd(), 'public', 'passkeys.js'));
  pages.get('/assets/passkeys.js', (ctx) => {
    ctx.type = 'text/javascript';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = passkeyScript;
  });
  pages.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.body = views.render('home', localeOf(ctx), { issuer: config.issuer });
  });

  // Before anything reads the client's address, scheme or host.
  if (config.trustProxy) app.use(forwardedHeadersOnlyFrom(config.trustedProxies));
  app.use(pinOriginToIssuer(config.issuer));
  app.use(requestId);
  app.use(securityHeaders);
  app.use(deps.metrics.observe()); // outside the error handler: sees every final status
  app.use(errorHandler(views, deps.logger));
  app.use(requireValidHost); // oidc-provider builds URLs from it
  app.use(deps.liveSettings); // before anything signs or checks a cookie or a token
  // Probes and the scraper: ahead of body limits and routers, never audited.
  app.use(mountRouter(healthRoutes(deps.health)));
  app.use(mountRouter(metricsRoutes(deps.metrics, config)));
  // Verification uploads carry two photos; everything else is small.
  const uploadLimit = 2 * config.verification.maxImageBytes + 64 * 1024;
  app.use(declaredBodyLimit(byteSize(config.bodyLimit), { uploads: UPLOADS, uploadLimit }));
  // Our own forms carry a CSRF token; the APIs use bearer tokens, oidc-provider guards its own.
  const csrf = requireCsrfToken(UPLOADS);
  app.use(mountRouter(interactions, pageBodies, csrf));
  app.use(mountRouter(notary, json));
  app.use(mountRouter(admin, json));
  app.use(mountRouter(checks, json));
  app.use(mountRouter(attachments));
  app.use(mountRouter(account, pageBodies, csrf));
  app.use(mountRouter(reset, pageBodies, csrf));
  app.use(mountRouter(operatorConsole, pageBodies, csrf));
  app.use(mountRouter(pages));
  app.use(authorizationRateLimit(deps.limits));
  // Before auditReleases opens the token request's transaction: a count must outlive its rollback.
  app.use(tokenRateLimit(deps.limits, async (clientId) => (await deps.clients.find(clientId)) !== undefined));
  app.use(auditReleases(deps.releases));
  app.use(trackSessions(deps.sessions, deps.logger));
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
    if ((ctx.request.length ?? 0) > allowed)
      throw new PlatformError('payload-too-large', 413, `The request body is larger than ${allowed} bytes.`);
    return next();
  };
}

/**
 * A router's routes, with the body parser applied only to requests that match them, then `guard`
 * (a check that throws) before any route runs.
 */
function mountRouter(router: Router, bodyParse?: Koa.Middleware, guard?: (ctx: Context) => void) {
  const routes = router.routes();
  const allowed = router.allowedMethods();
  return async (ctx: Context, next: Next) => {
    if (!router.match(ctx.path, ctx.method).route) return next();
    if (bodyParse) {
      await bodyParse(ctx, async () => {});
      // qs keeps a field whose percent-encoding is not UTF-8 as raw text; refuse it instead.
      const raw = (ctx.request as { rawBody?: string }).rawBody;
      if (raw && ctx.is('urlencoded') && !isWellFormedForm(raw))
        throw new PlatformError('malformed-request', 400, 'The form is not valid UTF-8 percent-encoding.');
    }
    guard?.(ctx);
    return routes(ctx as never, () => allowed(ctx as never, next));
  };
}
