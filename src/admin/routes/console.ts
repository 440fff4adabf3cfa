// The operator console at /admin (docs/operations.md#the-operator-console): server-rendered pages
// over AdminService, signed into through the platform itself like the account pages, with a
// strong sign-in: a passkey, or for an account with only a password a fresh person-document match.
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { AccountService } from '../../accounts/service.js';
import { PlatformError } from '../../errors.js';
import { renderPage } from '../../http/locale.js';
import type { Views } from '../../http/views.js';
import { ACR } from '../../oidc/policy.js';
import type { OperatorActor, OperatorService } from '../../operators/service.js';
import { usedPasskey } from '../../passkeys/amr.js';
import type { PasskeyService } from '../../passkeys/service.js';
import type { AdminService, Json } from '../service.js';
import { costChart } from '../chart.js';

export interface ConsoleDeps {
  provider: Provider;
  views: Views;
  admin: AdminService;
  operators: OperatorService;
  accounts: AccountService;
  passkeys: PasskeyService;
  /** Seconds a strong sign-in counts for the console (`adminConsole.signInMaxAge`). */
  signInMaxAge: number;
}

const LEVELS = ['result', 'credentials', 'dossier'];

/**
 * A form's fields as the admin API's body: repeated and comma-separated lists, empty fields left
 * out. A notary body's registration has only a name and a category to change (`kind`, on update).
 */
function clientBody(form: Record<string, unknown>, { update, kind }: { update: boolean; kind?: unknown }) {
  const list = (value: unknown) =>
    (Array.isArray(value) ? value : typeof value === 'string' ? [value] : [])
      .flatMap((v) => String(v).split(/[\s,]+/))
      .map((v) => v.trim())
      .filter(Boolean);
  const field = (name: string) => (typeof form[name] === 'string' && form[name] !== '' ? form[name] : undefined);
  const body: Record<string, unknown> = {
    name: field('name'),
    redirect_uris: list(form.redirect_uris),
    levels: list(form.levels),
    category: field('category'),
    security_level: field('security_level'),
    ...(update ? {} : { kind: field('kind') }),
  };
  for (const key of Object.keys(body)) {
    const value = body[key];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) delete body[key];
  }
  if (update && kind !== 'merchant') for (const key of ['redirect_uris', 'levels', 'security_level']) delete body[key];
  return body;
}

/** A registration as the edit form shows it. */
function formValues(client: Json): Record<string, unknown> {
  return {
    name: client.name,
    redirect_uris: ((client.redirect_uris as string[] | undefined) ?? []).join('\n'),
    levels: client.grant_levels,
    category: client.category,
    security_level: client.security_level,
  };
}

export function consoleRoutes(deps: ConsoleDeps): Router {
  const { provider, views, admin } = deps;
  const router = new Router({ prefix: '/admin' });
  const page = (ctx: Context, name: string, context: Record<string, unknown>, getPath = ctx.path) => {
    ctx.type = 'html';
    ctx.body = renderPage(views, ctx, name, { ...context, operatorLogin: ctx.state.operatorLogin }, getPath);
  };

  /**
   * The signed-in operator, or a sign-in: the session's account must be an active operator, and
   * its sign-in recent and strong (a passkey when the account has one, else a person-document
   * match, the step-up of src/interactions/routes/step-up.ts).
   */
  const operatorSignedIn = async (ctx: Context, next: Next) => {
    const session = await provider.Session.get(ctx as never);
    if (!session.accountId) return signIn(ctx, 'password');
    const accountId = session.accountId;
    if (!(await deps.operators.isActive(accountId))) {
      throw new PlatformError('not-an-operator', 403, 'This account is not an operator.');
    }
    const hasPasskeys = await deps.passkeys.hasPasskeys(accountId);
    const strong = hasPasskeys ? usedPasskey(session.amr as string[] | undefined) : session.acr === ACR.personMatch;
    const authTime = session.authTime() ?? 0;
    const recent = Date.now() / 1000 - authTime <= deps.signInMaxAge;
    if (!strong || !recent) return signIn(ctx, hasPasskeys ? 'passkey' : 'person_match');
    ctx.state.operator = { type: 'operator', id: accountId } satisfies OperatorActor;
    ctx.state.operatorLogin = (await deps.accounts.find(accountId))?.login;
    return next();
  };

  /** Through the account pages' sign-in (one session, one sign-in page), back to the console. */
  const signIn = (ctx: Context, acr: 'password' | 'passkey' | 'person_match') => {
    ctx.status = 303;
    const params = new URLSearchParams({ return: '/admin', reauth: '1', ...(acr === 'password' ? {} : { acr }) });
    ctx.redirect(`/account/login?${params}`);
  };

  const operatorOf = (ctx: Context) => ctx.state.operator as OperatorActor;
  const form = (ctx: Context) => ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown>;

  router.get('/', operatorSignedIn, async (ctx) => {
    const dashboard = await admin.dashboard(30);
    const head = (dashboard.audit as { latest_head: { timestamp: number } | null }).latest_head;
    page(ctx, 'admin-dashboard', {
      dashboard,
      chart: costChart(dashboard.daily as never, dashboard.since as string),
      headTime: head ? new Date(head.timestamp).toISOString().slice(0, 16).replace('T', ' ') : undefined,
    });
  });

  router.get('/clients', operatorSignedIn, async (ctx) => {
    const { clients } = (await admin.listClients()) as { clients: Json[] };
    const shown = clients.filter((c) => c.kind !== 'operator');
    page(ctx, 'admin-clients', { clients: shown, levels: LEVELS, values: {}, merchantFields: true });
  });

  router.post('/clients', operatorSignedIn, async (ctx) => {
    const values = form(ctx);
    try {
      const added = await admin.addClient(clientBody(values, { update: false }), operatorOf(ctx));
      page(ctx, 'admin-secret', { client: added, created: true }, '/admin/clients');
    } catch (err) {
      if (!(err instanceof PlatformError) || err.status !== 400) throw err;
      const { clients } = (await admin.listClients()) as { clients: Json[] };
      ctx.status = 400;
      page(
        ctx,
        'admin-clients',
        {
          clients: clients.filter((c) => c.kind !== 'operator'),
          levels: LEVELS,
          values,
          errors: err.extra.errors,
          merchantFields: true,
        },
        '/admin/clients',
      );
    }
  });

  router.get('/clients/:client_id', operatorSignedIn, async (ctx) => {
    const client = await admin.showClient(ctx.params.client_id);
    page(ctx, 'admin-client', {
      client,
      values: formValues(client),
      levels: LEVELS,
      saved: ctx.query.saved === '1',
      merchantFields: client.kind === 'merchant',
    });
  });

  router.post('/clients/:client_id', operatorSignedIn, async (ctx) => {
    const clientId = ctx.params.client_id!;
    try {
      const { kind } = await admin.showClient(clientId);
      await admin.updateClient(clientId, clientBody(form(ctx), { update: true, kind }), operatorOf(ctx));
    } catch (err) {
      if (!(err instanceof PlatformError) || err.status !== 400) throw err;
      const client = await admin.showClient(clientId);
      ctx.status = 400;
      return page(
        ctx,
        'admin-client',
        {
          client,
          values: { ...formValues(client), ...form(ctx) },
          levels: LEVELS,
          errors: err.extra.errors,
          merchantFields: client.kind === 'merchant',
        },
        `/admin/clients/${clientId}`,
      );
    }
    ctx.status = 303;
    ctx.redirect(`/admin/clients/${encodeURIComponent(clientId)}?saved=1`);
  });

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    router.post(`/clients/:client_id/${action}`, operatorSignedIn, async (ctx) => {
      const clientId = ctx.params.client_id!;
      await admin.setClientDisabled(clientId, disabled, operatorOf(ctx));
      ctx.status = 303;
      ctx.redirect(`/admin/clients/${encodeURIComponent(clientId)}?saved=1`);
    });
  }

  router.post('/clients/:client_id/secret', operatorSignedIn, async (ctx) => {
    const rotated = await admin.rotateClientSecret(ctx.params.client_id, operatorOf(ctx));
    const client = await admin.showClient(ctx.params.client_id);
    page(
      ctx,
      'admin-secret',
      { client: { ...client, client_secret: rotated.client_secret }, created: false },
      `/admin/clients/${ctx.params.client_id}`,
    );
  });

  return router;
}
