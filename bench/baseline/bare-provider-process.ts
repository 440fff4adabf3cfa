import { writeFileSync } from 'node:fs';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { BARE_CLIENT, BARE_SCOPE } from './bare-provider.js';

// The framework's ceiling: oidc-provider alone, with its default in-memory adapter, one static
// client and none of the platform (no database, no Koa middleware, no audit). Refresh tokens are
// minted through its own models at start and written to TOKENS_FILE.
// Env: PORT, TOKENS_FILE, REFRESH_TOKENS (count), ROTATE (1: rotate every refresh token, as the
// platform under test does; otherwise oidc-provider's default policy).
//
// The default adapter is an LRU of two generations of 1000 entries
// (oidc-provider/lib/adapters/memory_adapter.js) and every grant saves an access token into it, so
// a large pool of unused tokens would be evicted: the load follows each connection's chain of
// rotated tokens instead, starting from a few minted here.

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
// The platform signs ID tokens with a 2048-bit RS256 key (src/keys/service.ts); so does this one.
const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });

const provider = new Provider(issuer, {
  clients: [
    {
      ...BARE_CLIENT,
      grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
      response_types: ['code'],
      redirect_uris: ['http://localhost:8080/callback'],
      scope: BARE_SCOPE,
    },
  ],
  jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'bare' }] },
  scopes: BARE_SCOPE.split(' '),
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
  ...(process.env.ROTATE === '1' ? { rotateRefreshToken: true } : {}),
});

const count = Number(process.env.REFRESH_TOKENS ?? 0);
if (count > 0) {
  const client = await provider.Client.find(BARE_CLIENT.client_id);
  const grant = new provider.Grant({ accountId: 'bare-person', clientId: BARE_CLIENT.client_id });
  grant.addOIDCScope('openid offline_access');
  const grantId = await grant.save();
  const tokens: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const token = new provider.RefreshToken({
      client: client!,
      accountId: 'bare-person',
      grantId,
      scope: 'openid offline_access',
      gty: 'authorization_code',
      authTime: Math.floor(Date.now() / 1000),
    });
    tokens.push(await token.save());
  }
  writeFileSync(process.env.TOKENS_FILE!, JSON.stringify(tokens));
}

provider.listen(port, '127.0.0.1');
