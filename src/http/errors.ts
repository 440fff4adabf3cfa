import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { errors as oidcErrors } from 'oidc-provider';
import type { Logger } from 'pino';
import { PlatformError } from '../errors.js';
import { localeOf, renderPage } from './locale.js';
import type { Views } from './views.js';

/** Problem types for failures raised by Koa middleware (body parsing) rather than our code. */
const HTTP_PROBLEMS: Record<number, string> = {
  400: 'malformed-request',
  404: 'not-found',
  405: 'method-not-allowed',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
};

/** oidc-provider's endpoints for clients (not browsers): their errors follow OAuth (RFC 6749 §5.2). */
const OAUTH_ENDPOINTS = new Set(['/token', '/token/introspection', '/token/revocation', '/me', '/jwks']);

/** PostgreSQL SQLSTATEs meaning "the server is not there right now" (class 08, 57P01–57P03). */
const UNAVAILABLE_STATES = /^(08|57P0[123])/;
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
/** What the database being briefly away means to a caller: retry soon. */
const UNAVAILABLE_DETAIL = 'The service is briefly unavailable. Nothing was lost: try again in a moment.';

/**
 * Whether an error means the database could not be reached (restarting, connections dropped,
 * pool exhausted): the request may succeed if retried, so it is a 503, not a 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_STATES.test(code) || UNAVAILABLE_CODES.has(code))) return true;
  return (
    typeof message === 'string' &&
    /Connection terminated|Timeout acquiring a connection|Client has encountered a connection error/.test(message)
  );
}

/** APIs always answer in JSON; elsewhere, a client that prefers JSON over HTML gets it. */
export function wantsJson(ctx: Context): boolean {
  if (ctx.path.startsWith('/api/')) return true;
  const preferred = ctx.accepts('html', 'json', 'application/problem+json');
  return preferred !== false && preferred !== 'html';
}

/**
 * zlib's errors for compressed data that does not decompress (Z_DATA_ERROR, Z_BUF_ERROR, brotli's
 * ERR__ERROR_*). The body parsers inflate a Content-Encoding: gzip/deflate/br body and pass these
 * on without a status; the server decompresses nothing else, so one means a broken request body.
 */
const DECOMPRESSION_ERRORS = /^(Z_(DATA|BUF|NEED_DICT)_ERROR|ERR__ERROR_)/;

/** Normalizes anything thrown into a PlatformError; unknown errors become an unexposed 500. */
function toPlatformError(err: unknown): PlatformError {
  if (err instanceof PlatformError) return err;
  if (err instanceof oidcErrors.SessionNotFound) {
    return new PlatformError(
      'session-expired',
      400,
      'This sign-in has expired or was opened in another browser. Start again from the merchant.',
    );
  }
  if (isDatabaseUnavailable(err)) {
    return new PlatformError('database-unavailable', 503, UNAVAILABLE_DETAIL, { headers: { 'Retry-After': '5' } });
  }
  if (DECOMPRESSION_ERRORS.test(String((err as { code?: unknown }).code ?? ''))) {
    return new PlatformError('malformed-request', 400, 'The request body could not be decompressed.');
  }
  const status =
    (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
  const expose = (err as { expose?: boolean }).expose;
  if (status && status >= 400 && status < 500 && expose !== false) {
    return new PlatformError(HTTP_PROBLEMS[status] ?? 'bad-request', status, (err as Error).message);
  }
  return new PlatformError('internal-error', 500, 'Something went wrong on our side.', { expose: false });
}

/**
 * The one place errors are rendered: problem+json (RFC 9457) for APIs, a friendly page for
 * browsers. Details of unexpected errors are logged, never shown.
 */
export function errorHandler(views: Views, logger: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new PlatformError('not-found', 404, 'Not found.');
    } catch (err) {
      const problem = toPlatformError(err);
      if (problem.status >= 500) logger.error({ err, reqId: ctx.state.requestId }, 'request failed');
      const detail = problem.expose ? problem.message : undefined;
      ctx.status = problem.status;
      for (const [name, value] of Object.entries(problem.extra.headers ?? {})) ctx.set(name, value);
      if (OAUTH_ENDPOINTS.has(ctx.path)) {
        // A failure of ours around oidc-provider's endpoint (e.g. the audit transaction): OAuth JSON.
        ctx.type = 'application/json';
        ctx.set('Cache-Control', 'no-store');
        const error =
          problem.status === 503
            ? 'temporarily_unavailable'
            : problem.status >= 500
              ? 'server_error'
              : 'invalid_request';
        ctx.body = { error, ...(detail ? { error_description: detail } : {}) };
      } else if (wantsJson(ctx)) {
        ctx.type = 'application/problem+json';
        ctx.body = {
          type: problem.type,
          title: problem.code,
          status: problem.status,
          ...(detail ? { detail } : {}),
          ...(problem.extra.errors ? { errors: problem.extra.errors } : {}),
        };
      } else {
        ctx.type = 'html';
        const locale = localeOf(ctx);
        ctx.body = renderPage(views, ctx, 'error', {
          status: problem.status,
          message:
            views.lookup(locale, `problem.${problem.code}`) ?? detail ?? views.translate(locale, 'problem.generic'),
        });
      }
    }
  };
}

/**
 * oidc-provider answers whatever throws inside it with its own 500 `server_error` and then emits
 * `server_error` (lib/shared/error_handler.js), before the response is sent. A lost database
 * connection is no bug of ours but a 503 the client may retry, as errorHandler answers it
 * everywhere else; the rest is logged as the bug it is.
 */
export function answerProviderFailures(provider: Provider, logger: Logger): void {
  provider.on('server_error', (ctx, err) => {
    if (!isDatabaseUnavailable(err)) {
      logger.error({ err, reqId: ctx.state?.requestId }, 'oidc-provider server error');
      return;
    }
    logger.warn({ err, reqId: ctx.state?.requestId }, 'database unavailable during an oidc-provider request');
    ctx.status = 503;
    ctx.set('Retry-After', '5');
    if (ctx.body && typeof ctx.body === 'object')
      ctx.body = { error: 'temporarily_unavailable', error_description: UNAVAILABLE_DETAIL };
  });
}

/**
 * RFC 6749 §5.2: a client asking for a grant type it is not registered for gets
 * `unauthorized_client` ("The authenticated client is not authorized to use this authorization
 * grant type"). oidc-provider 9 throws `invalid_request` there (lib/actions/token.js, the
 * `grantTypeAllowed` check); its token endpoint's error handler emits `grant.error` after setting
 * the body and before sending it, so the one answer is corrected here.
 */
export function answerDisallowedGrantType(provider: Provider): void {
  provider.on('grant.error', (ctx, err) => {
    const body = ctx.body as { error?: string; error_description?: string } | undefined;
    if (
      err instanceof oidcErrors.InvalidRequest &&
      body?.error_description === 'requested grant type is not allowed for this client'
    ) {
      ctx.body = { ...body, error: 'unauthorized_client' };
    }
  });
}
