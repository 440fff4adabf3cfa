import type { Context, Next } from 'koa';
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

/** APIs always answer in JSON; elsewhere, a client that prefers JSON over HTML gets it. */
export function wantsJson(ctx: Context): boolean {
  if (ctx.path.startsWith('/api/')) return true;
  const preferred = ctx.accepts('html', 'json', 'application/problem+json');
  return preferred !== false && preferred !== 'html';
}

/** Normalizes anything thrown into a PlatformError; unknown errors become an unexposed 500. */
function toPlatformError(err: unknown): PlatformError {
  if (err instanceof PlatformError) return err;
  if (err instanceof oidcErrors.SessionNotFound) {
    return new PlatformError('session-expired', 400, 'This sign-in has expired or was opened in another browser. Start again from the merchant.');
  }
  const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
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
      if (wantsJson(ctx)) {
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
          message: views.lookup(locale, `problem.${problem.code}`) ?? detail ?? views.translate(locale, 'problem.generic'),
        });
      }
    }
  };
}
