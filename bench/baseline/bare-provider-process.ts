import { writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import argon2 from 'argon2';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { BARE_API, BARE_CLIENT, BARE_SCOPE, type BareOptions } from './bare-provider.js';
import { openBareDb, postgresAdapter } from './postgres-adapter.js';

// The framework's rungs: oidc-provider alone, one static client and none of the platform (no
// Koa middleware, no rate limits, no audit), storing what it issues
// - neither: in its default in-memory adapter (the ceiling of the framework itself);
// - DATABASE_URL (PostgreSQL) or DATA_DIR (PGlite) set: through the one-table JSONB adapter
//   of ./postgres-adapter.ts, what persistence alone costs.
// CC_JWT=1 issues client_credentials tokens as EdDSA-signed JWTs (RFC 9068), which store nothing.
// Refresh and access tokens are minted through its own models at start and written to TOKENS_FILE.
// Env: PORT, TOKENS_FILE, REFRESH_TOKENS and ACCESS_TOKENS (counts), ROTATE (1: rotate every
// refresh token, as the platform under test does; otherwise oidc-provider's default policy).
// SIGN_IN (JSON: the password and argon2 parameters) serves the smallest interaction pages an
// authorization code flow needs (./bare-interactions below): a sign-in form whose password is
// checked with argon2id at those parameters, and a consent form granting the requested scopes.
//
// The default adapter is an LRU of two generations of 1000 entries
// (oidc-provider/lib/adapters/memory_adapter.js) and every grant saves an access token into it, so
// a large pool of unused tokens would be evicted: the load follows each connection's chain of
// rotated tokens instead, starting from a few minted here.

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
// The platform signs ID tokens with a 2048-bit RS256 key (src/keys/service.ts); so does this one.
const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
const { privateKey: edKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });

const db = process.env.DATABASE_URL
  ? openBareDb({ databaseUrl: process.env.DATABASE_URL })
  : process.env.DATA_DIR
    ? openBareDb({ dataDir: process.env.DATA_DIR })
    : undefined;
const jwtClientCredentials: Pick<NonNullable<Configuration['features']>, 'resourceIndicators'> = process.env.CC_JWT ===
'1'
  ? {
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx) =>
          (ctx.oidc.params as { grant_type?: string } | undefined)?.grant_type === 'client_credentials'
            ? BARE_API
            : undefined,
        getResourceServerInfo: async () => ({
          scope: 'realname:check',
          audience: BARE_API,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'EdDSA' } },
        }),
        useGrantedResource: async () => false,
      },
    }
  : {};

const provider = new Provider(issuer, {
  ...(db ? { adapter: postgresAdapter(db) } : {}),
  clients: [
    {
      ...BARE_CLIENT,
      grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
      response_types: ['code'],
      redirect_uris: ['http://localhost:8080/callback'],
      scope: BARE_SCOPE,
    },
  ],
  jwks: {
    keys: [
      { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'bare' },
      { ...(await exportJWK(edKey)), alg: 'EdDSA', use: 'sig', kid: 'bare-ed' },
    ],
  },
  scopes: BARE_SCOPE.split(' '),
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false }, ...jwtClientCredentials },
  ...(process.env.ROTATE === '1' ? { rotateRefreshToken: true } : {}),
});

if (process.env.SIGN_IN) {
  const { password, argon2: params } = JSON.parse(process.env.SIGN_IN) as NonNullable<BareOptions['signIn']>;
  const hash = await argon2.hash(password, { type: argon2.argon2id, ...params });
  provider.use(bareInteractions(provider, hash));
}

const refreshCount = Number(process.env.REFRESH_TOKENS ?? 0);
const accessCount = Number(process.env.ACCESS_TOKENS ?? 0);
if (refreshCount + accessCount > 0) {
  const client = (await provider.Client.find(BARE_CLIENT.client_id))!;
  const grant = new provider.Grant({ accountId: 'bare-person', clientId: BARE_CLIENT.client_id });
  grant.addOIDCScope('openid offline_access');
  const grantId = await grant.save();
  const minted = { refresh: [] as string[], access: [] as string[] };
  const common = { client, accountId: 'bare-person', grantId, gty: 'authorization_code' };
  for (let i = 0; i < refreshCount; i += 1) {
    const token = new provider.RefreshToken({
      ...common,
      scope: 'openid offline_access',
      authTime: Math.floor(Date.now() / 1000),
    });
    minted.refresh.push(await token.save());
  }
  for (let i = 0; i < accessCount; i += 1)
    minted.access.push(await new provider.AccessToken({ ...common, scope: 'openid' }).save());
  writeFileSync(process.env.TOKENS_FILE!, JSON.stringify(minted));
}

provider.listen(port, '127.0.0.1');

/**
 * The interaction pages of a bare sign-in flow, as oidc-provider's own example does them and no
 * more: GET /interaction/:uid shows the prompt's form; POST …/login checks the password (any login
 * names its own account) and POST …/confirm grants the requested scopes. No CSRF token, no rate
 * limit, no templates, no audit.
 */
function bareInteractions(provider: Provider, hash: string) {
  const form = (uid: string, action: string, fields: string) =>
    `<!doctype html><form method="post" action="/interaction/${uid}/${action}">${fields}<button>OK</button></form>`;
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    const route = /^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/.exec(ctx.path);
    if (!route) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (ctx.method === 'GET' && !route[2]) {
      ctx.type = 'html';
      ctx.body =
        details.prompt.name === 'login'
          ? form(details.uid, 'login', '<input name="login"><input name="password" type="password">')
          : form(details.uid, 'confirm', '');
      return;
    }
    if (ctx.method !== 'POST') return next();
    if (route[2] === 'login') {
      const body = new URLSearchParams(await text(ctx.req));
      const login = body.get('login');
      if (!login || !(await argon2.verify(hash, body.get('password') ?? ''))) {
        ctx.status = 401;
        ctx.body = 'wrong login or password';
        return;
      }
      ctx.respond = false;
      return provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login } });
    }
    await text(ctx.req);
    const grant = new provider.Grant({
      accountId: details.session!.accountId,
      clientId: details.params.client_id as string,
    });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    ctx.respond = false;
    return provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } });
  };
}

async function text(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}
