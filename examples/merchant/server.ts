// 示例商城 — an example merchant site for the real-name authorization platform.
//
// It signs people in with OpenID Connect (authorization code + PKCE S256, via openid-client 6)
// and shows what each grant level gives a merchant. Run it beside the platform:
//
//   CLIENT_ID=… CLIENT_SECRET=… npx tsx examples/merchant/server.ts
//
// With FAPI=1 it is a FAPI 2.0 client instead (a client registered with `--profile fapi2`): it
// pushes its authorization requests (PAR), authenticates with its own key (private_key_jwt), binds
// its tokens to a DPoP key of the session, and reads userinfo as a JWS signed with PS256.
//
// See examples/merchant/README.md. This is teaching code: sessions live in an in-memory Map and
// are lost when the process stops; a real merchant keeps them in its own session store.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import Router from '@koa/router';
import argon2 from 'argon2';
import { createRemoteJWKSet, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWTPayload } from 'jose';
import Koa, { type Context } from 'koa';
import * as oidc from 'openid-client';

export interface MerchantExampleOptions {
  issuer: string;
  clientId: string;
  /** The client secret; none in FAPI 2.0 mode. */
  clientSecret?: string;
  /**
   * FAPI 2.0 mode: the client's private key (a private JWK whose public part was registered with
   * `client add --profile fapi2 --jwks`), signing its client assertions with `alg`.
   */
  fapi?: { privateJwk: oidc.JWK & { alg: string } };
  port: number;
  /** Must be registered with the platform; default http://localhost:<port>/callback. */
  redirectUri?: string;
}

/** The scope of each grant level (the person picks one of those the merchant asks for). */
const LEVEL_SCOPES = { result: 'realname', credentials: 'realname:credentials', dossier: 'realname:dossier' } as const;
type Level = keyof typeof LEVEL_SCOPES;
const LEVEL_LABELS: Record<Level, string> = {
  result: '1 · 仅核验结果 Result only',
  credentials: '2 · 结果 + 本站账号密码 Result + credentials',
  dossier: '3 · 结果 + 身份资料 Result + dossier',
};

/** The granted level, read from the token response's `scope`: it holds only the chosen level's scope. */
function levelOfScope(scope: string | undefined): Level | undefined {
  const scopes = new Set((scope ?? '').split(' '));
  return (['dossier', 'credentials', 'result'] as const).find((level) => scopes.has(LEVEL_SCOPES[level]));
}

/** A Security Event Token or logout token this site received from the platform, as shown on its page. */
interface Notice {
  at: Date;
  kind: 'security event' | 'back-channel logout';
  /** The event type URIs, or why the token was refused. */
  events: string[];
  sub?: string;
  claims?: JWTPayload;
  refused?: string;
  /** Local sessions of that person this site ended because of it. */
  sessionsEnded: number;
}

const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const ACCOUNT_PURGED = 'https://schemas.openid.net/secevent/risc/event-type/account-purged';
const LEVEL_LOWERED = 'urn:realname:secevent:grant-level-lowered';
const BACKCHANNEL_LOGOUT = 'http://schemas.openid.net/event/backchannel-logout';

interface Session {
  created: number;
  /** FAPI 2.0 mode: this session's DPoP key; its tokens are bound to it and useless without it. */
  dpop?: oidc.DPoPHandle;
  /** Between /login and /callback: the values only this browser's callback may present. */
  pending?: { state: string; nonce: string; verifier: string };
  signedIn?: {
    level: Level | undefined;
    scope: string;
    /** Whether a refresh token came too (never at level 1); a real merchant would store it. */
    refreshToken: boolean;
    accessToken: string;
    idClaims: Record<string, unknown>;
    userinfo: Record<string, unknown>;
  };
}

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const json = (value: unknown) => `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem}
pre{background:#f4f4f4;padding:.75rem;overflow:auto}.button,button{display:inline-block;padding:.5rem 1rem;margin:.25rem 0;
background:#1a5fb4;color:#fff;border:0;border-radius:4px;text-decoration:none;cursor:pointer}.ok{color:#26a269}.bad{color:#c01c28}</style>
</head><body><h1><a href="/">示例商城</a> <small>Example merchant</small></h1>${body}</body></html>`;
}

/** Starts the example merchant; resolves once it is listening. */
export async function startMerchantExample(
  options: MerchantExampleOptions,
): Promise<{ server: Server; url: string; stop(): Promise<void> }> {
  const issuer = new URL(options.issuer);
  const redirectUri = options.redirectUri ?? `http://localhost:${options.port}/callback`;
  // Step 0 — discovery: endpoints and keys from /.well-known/openid-configuration. The client
  // authenticates at the token endpoint with client_secret_basic, or under FAPI 2.0 with a JWT
  // signed by its own key (private_key_jwt, RFC 7523), and then expects PS256 ID tokens and a
  // PS256 JWS from userinfo. enableNonRepudiationChecks also checks the ID token's signature
  // against the platform's JWKS (openid-client skips that by default, trusting TLS). Plain http
  // only because the platform is on localhost here.
  const fapi = options.fapi;
  const execute = [
    oidc.enableNonRepudiationChecks,
    ...(issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : []),
  ];
  const config = fapi
    ? await oidc.discovery(
        issuer,
        options.clientId,
        {
          token_endpoint_auth_method: 'private_key_jwt',
          id_token_signed_response_alg: 'PS256',
          userinfo_signed_response_alg: 'PS256',
        },
        oidc.PrivateKeyJwt(await importPrivateJwk(fapi.privateJwk)),
        { execute },
      )
    : await oidc.discovery(
        issuer,
        options.clientId,
        options.clientSecret,
        oidc.ClientSecretBasic(options.clientSecret),
        { execute },
      );
  const supported = new Set(config.serverMetadata().scopes_supported ?? []);

  const sessions = new Map<string, Session>();
  const SESSION_COOKIE = 'merchant_session';
  /** This browser's session, created on first use; the cookie holds only a random id. */
  function session(ctx: Context, create: boolean): Session | undefined {
    const id = ctx.cookies.get(SESSION_COOKIE);
    const found = id ? sessions.get(id) : undefined;
    if (found || !create) return found;
    for (const [key, old] of sessions) if (Date.now() - old.created > 3600_000) sessions.delete(key);
    const fresh: Session = { created: Date.now() };
    const newId = randomBytes(32).toString('base64url');
    sessions.set(newId, fresh);
    // SameSite=Lax: sent on the platform's redirect back to /callback, not on cross-site posts.
    ctx.cookies.set(SESSION_COOKIE, newId, { httpOnly: true, sameSite: 'lax', overwrite: true });
    return fresh;
  }

  const router = new Router();

  router.get('/', (ctx) => {
    const signedIn = session(ctx, false)?.signedIn;
    ctx.body = page(
      '示例商城',
      `
<p>用实名认证平台登录本站。Sign in with the real-name authorization platform at <code>${escapeHtml(issuer)}</code>.</p>
${signedIn ? `<p>已登录 Signed in — <a href="/me">查看结果 see what this site received</a></p>` : ''}
<p><a class="button" href="/login?levels=result">仅核验结果登录 Sign in (result only)</a></p>
<p><a class="button" href="/login?levels=result,credentials,dossier">登录（任选级别）Sign in (choose any level)</a></p>
<p><small>The first asks for <code>openid realname</code>; the second for every level scope plus
<code>offline_access</code>, and the platform's consent page lets the person pick one.</small></p>
${renderNotices()}`,
    );
  });

  // What the platform told this site on its own: Security Event Tokens (RFC 8417) pushed to
  // /events (register with `client add --events-endpoint <this site>/events`) and logout tokens
  // posted to /backchannel-logout (`--backchannel-logout-uri <this site>/backchannel-logout`).
  // Both are JWTs signed with the platform's keys: verified against its JWKS, issuer and audience
  // (this client_id) checked, before anything is done. A real merchant keeps them in a database.
  const notices: Notice[] = [];
  const platformKeys = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
  const remember = (notice: Notice) => {
    notices.unshift(notice);
    notices.length = Math.min(notices.length, 50);
  };
  /** Ends this site's sessions of the person the platform names (by `sub`, or by the platform's `sid`). */
  function endSessionsOf(match: { sub?: string; sid?: string }): number {
    let ended = 0;
    for (const [id, s] of sessions) {
      const claims = s.signedIn?.idClaims;
      if (!claims) continue;
      if ((match.sid && claims.sid === match.sid) || (!match.sid && match.sub && claims.sub === match.sub)) {
        sessions.delete(id);
        ended += 1;
      }
    }
    return ended;
  }

  function renderNotices(): string {
    if (!notices.length) return '<h2>平台通知 From the platform</h2><p>(nothing received yet)</p>';
    const rows = notices
      .map(
        (n) =>
          `<li data-notice="${escapeHtml(n.kind)}"><strong>${escapeHtml(n.kind)}</strong> ${escapeHtml(n.at.toISOString())}
${n.refused ? `<span class="bad">refused: ${escapeHtml(n.refused)}</span>` : `— ${n.events.map(escapeHtml).join(', ')}; sub <code>${escapeHtml(n.sub ?? '')}</code>; sessions ended here: ${n.sessionsEnded}`}
${n.claims ? json(n.claims) : ''}</li>`,
      )
      .join('');
    return `<h2>平台通知 From the platform</h2><ul>${rows}</ul>`;
  }

  // RFC 8935 §2: a SET in the body (application/secevent+jwt); 202 when accepted, else 400 with
  // an RFC 8935 §2.3 error. A `jti` seen before is acknowledged again and not acted on twice.
  const seen = new Set<string>();
  router.post('/events', async (ctx) => {
    if (!ctx.is('application/secevent+jwt'))
      return refuseSet(ctx, 'invalid_request', 'expected application/secevent+jwt');
    const token = (await readBody(ctx)).trim();
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, platformKeys, {
        issuer: config.serverMetadata().issuer,
        audience: options.clientId,
        typ: 'secevent+jwt',
      }));
    } catch (err) {
      remember({ at: new Date(), kind: 'security event', events: [], refused: String(err), sessionsEnded: 0 });
      return refuseSet(ctx, 'invalid_request', 'the SET did not verify');
    }
    ctx.status = 202;
    if (!claims.jti || seen.has(claims.jti)) return;
    seen.add(claims.jti);
    const events = Object.keys((claims.events as Record<string, unknown> | undefined) ?? {});
    const sub = (claims.sub_id as { sub?: string } | undefined)?.sub;
    // Revoked, purged or lowered: the tokens this site holds for the person stopped working at the
    // platform; sign the person out here too, and let the next sign-in bring the level now granted.
    const acts = events.some((e) => [SESSION_REVOKED, ACCOUNT_PURGED, LEVEL_LOWERED].includes(e));
    remember({
      at: new Date(),
      kind: 'security event',
      events,
      sub,
      claims,
      sessionsEnded: acts && sub ? endSessionsOf({ sub }) : 0,
    });
  });

  // OpenID Connect Back-Channel Logout 1.0 §2.5–§2.8: a logout token in a form post; 200 when the
  // sessions are ended, 400 when the token does not validate.
  router.post('/backchannel-logout', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const token = new URLSearchParams(await readBody(ctx)).get('logout_token') ?? '';
    try {
      const { payload } = await jwtVerify(token, platformKeys, {
        issuer: config.serverMetadata().issuer,
        audience: options.clientId,
        typ: 'logout+jwt',
      });
      const events = payload.events as Record<string, unknown> | undefined;
      if (!events?.[BACKCHANNEL_LOGOUT] || payload.nonce !== undefined || (!payload.sub && !payload.sid))
        throw new Error('not a logout token');
      const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
      remember({
        at: new Date(),
        kind: 'back-channel logout',
        events: Object.keys(events),
        sub: payload.sub,
        claims: payload,
        sessionsEnded: endSessionsOf({ sub: payload.sub, sid }),
      });
      ctx.status = 200;
    } catch (err) {
      remember({ at: new Date(), kind: 'back-channel logout', events: [], refused: String(err), sessionsEnded: 0 });
      ctx.status = 400;
      ctx.body = { error: 'invalid_request' };
    }
  });

  // Step 1 — the authorization request. PKCE S256, state and nonce are generated per attempt and
  // kept in this browser's session, so only this browser can complete the sign-in.
  router.get('/login', async (ctx) => {
    const levels = String(ctx.query.levels ?? 'result')
      .split(',')
      .filter((l): l is Level => l in LEVEL_SCOPES);
    // Ask only for level scopes the platform advertises (level 3 may not be offered yet).
    const levelScopes = levels.map((l) => LEVEL_SCOPES[l]).filter((s) => supported.has(s));
    if (!levelScopes.length) levelScopes.push(LEVEL_SCOPES.result);
    // offline_access (a refresh token, levels 2 and 3 only) needs prompt=consent (OIDC Core §11).
    const offline = levelScopes.length > 1;
    const scope = ['openid', ...levelScopes, ...(offline ? ['offline_access'] : [])].join(' ');
    const pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
    const current = session(ctx, true)!;
    current.pending = pending;
    const parameters = {
      redirect_uri: redirectUri,
      scope,
      ...(offline ? { prompt: 'consent' } : {}),
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    };
    if (!fapi) {
      ctx.redirect(oidc.buildAuthorizationUrl(config, parameters).href);
      return;
    }
    // FAPI 2.0: the parameters go to the platform over the back channel (PAR, RFC 9126), already
    // bound to this session's new DPoP key; the browser carries only client_id and request_uri.
    current.dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    ctx.redirect((await oidc.buildAuthorizationUrlWithPAR(config, parameters, { DPoP: current.dpop })).href);
  });

  /** FAPI 2.0 mode: every call with the session's tokens carries a DPoP proof of its key. */
  const dpopOf = (current: Session) => (current.dpop ? { DPoP: current.dpop } : undefined);

  // Step 2 — the platform sends the person back with a code. openid-client checks state, redeems
  // the code with the PKCE verifier and the client secret, and validates the ID token (signature
  // against the JWKS, issuer, audience, expiry, nonce).
  router.get('/callback', async (ctx) => {
    const current = session(ctx, false);
    const pending = current?.pending;
    if (!current || !pending) {
      ctx.status = 400;
      ctx.body = page(
        'Error',
        `<p class="bad">没有进行中的登录 No sign-in in progress in this browser.</p><p><a href="/">首页 Home</a></p>`,
      );
      return;
    }
    delete current.pending; // one attempt per authorization request
    const callbackUrl = new URL(redirectUri);
    callbackUrl.search = ctx.querystring;
    try {
      const tokens = await oidc.authorizationCodeGrant(
        config,
        callbackUrl,
        {
          pkceCodeVerifier: pending.verifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        },
        undefined,
        dpopOf(current),
      );
      const idClaims = tokens.claims()!;
      // Step 3 — userinfo, with the access token; its `sub` must match the ID token's.
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub, dpopOf(current));
      current.signedIn = {
        level: levelOfScope(tokens.scope),
        scope: tokens.scope ?? '',
        refreshToken: Boolean(tokens.refresh_token),
        accessToken: tokens.access_token,
        idClaims,
        userinfo,
      };
    } catch (err) {
      // e.g. the person cancelled (access_denied), or a check failed.
      const e = err as { error?: string; error_description?: string; message?: string };
      ctx.status = 400;
      ctx.body = page(
        'Sign-in failed',
        `<p class="bad">登录失败 Sign-in failed: <code>${escapeHtml(e.error ?? e.message)}</code> ${escapeHtml(e.error_description ?? '')}</p><p><a href="/">首页 Home</a></p>`,
      );
      return;
    }
    ctx.redirect('/me'); // so reloading the page does not redeem the code again
  });

  router.get('/me', (ctx) => renderMe(ctx));

  // Level 2: the merchant checks a later direct sign-in itself, from the argon2id hash it
  // received — the platform is not involved.
  router.post('/me/password', async (ctx) => {
    const fields = new URLSearchParams(await readBody(ctx));
    const signedIn = session(ctx, false)?.signedIn;
    const credentials = (signedIn?.userinfo.merchant_credentials ?? signedIn?.idClaims.merchant_credentials) as
      { username?: string; password_hash?: string } | undefined;
    let ok = false;
    if (credentials?.password_hash && fields.get('username') === credentials.username) {
      ok = await argon2.verify(credentials.password_hash, fields.get('password') ?? '').catch(() => false);
    }
    renderMe(
      ctx,
      ok
        ? '<p class="ok">✓ 用户名和密码正确 Username and password are correct.</p>'
        : '<p class="bad">✗ 用户名或密码错误 Wrong username or password.</p>',
    );
  });

  // Level 3: attachments need the access token, which stays on this server; the browser asks
  // here, and only URLs on the platform are fetched (never an arbitrary URL: that would be SSRF).
  router.get('/attachment', async (ctx) => {
    const current = session(ctx, false);
    const signedIn = current?.signedIn;
    const raw = String(ctx.query.url ?? '');
    const url = URL.canParse(raw) ? new URL(raw) : undefined;
    const issuerPath = issuer.pathname.endsWith('/') ? issuer.pathname : `${issuer.pathname}/`;
    if (!signedIn || !url || url.origin !== issuer.origin || !url.pathname.startsWith(issuerPath)) {
      ctx.status = 400;
      ctx.body = 'not an attachment of this session';
      return;
    }
    // fetchProtectedResource sends `Authorization: Bearer <access token>` (under FAPI 2.0
    // `DPoP <access token>` and a proof for this GET of this URL); it throws on a
    // WWW-Authenticate challenge (e.g. the person revoked the grant: invalid_token).
    const response = await oidc
      .fetchProtectedResource(config, signedIn.accessToken, url, 'GET', undefined, undefined, dpopOf(current!))
      .catch((err: Error) => err);
    if (response instanceof Error || !response.ok) {
      ctx.status = 502;
      ctx.body = `the platform refused: ${response instanceof Error ? response.message : response.status}`;
      return;
    }
    const body = Buffer.from(await response.arrayBuffer());
    // Check the digest the dossier gave for this attachment, when it names one we know.
    const digest = attachmentsOf(signedIn).find((a) => a.url === raw)?.digest;
    if (digest?.value && /^sha-?256$/i.test(digest.alg ?? '')) {
      const actual = createHash('sha256').update(body).digest('base64url');
      if (actual !== digest.value.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_')) {
        ctx.status = 502;
        ctx.body = 'attachment digest mismatch';
        return;
      }
    }
    ctx.type = response.headers.get('content-type') ?? 'application/octet-stream';
    ctx.set({ 'Content-Security-Policy': 'sandbox', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
    ctx.body = body;
  });

  router.post('/logout', (ctx) => {
    const id = ctx.cookies.get(SESSION_COOKIE);
    if (id) sessions.delete(id);
    ctx.cookies.set(SESSION_COOKIE, null);
    ctx.redirect('/');
  });

  function renderMe(ctx: Context, message = '') {
    const signedIn = session(ctx, false)?.signedIn;
    if (!signedIn) return ctx.redirect('/');
    const { level, idClaims, userinfo } = signedIn;
    const credentials = (userinfo.merchant_credentials ?? idClaims.merchant_credentials) as
      { username?: string } | undefined;
    let extra = '';
    if (level === 'credentials') {
      extra = `<h2>级别 2：验证密码 Level 2: check a password</h2>
<p>The person saw this password once, on the platform's consent page. This site holds only its argon2id
hash and checks it locally with <code>argon2.verify</code>.</p>${message}
<form method="post" action="/me/password">
<label>用户名 Username <input name="username" value="${escapeHtml(credentials?.username ?? '')}"></label>
<label>密码 Password <input name="password" type="password" autocomplete="off"></label> <button>验证 Verify</button></form>`;
    }
    if (level === 'dossier') {
      const verified = verifiedClaimsOf(signedIn);
      extra = `<h2>级别 3：身份资料 Level 3: verified claims</h2>${verified.length ? json(verified) : '<p>(no verified_claims received)</p>'}`;
      const attachments = attachmentsOf(signedIn);
      if (attachments.length) {
        extra += `<h3>附件 Attachments</h3><ul>${attachments
          .map(
            (a) => `<li><a href="/attachment?url=${encodeURIComponent(a.url)}">${escapeHtml(a.desc ?? a.url)}</a></li>`,
          )
          .join('')}</ul>`;
      }
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.body = page(
      '已登录 Signed in',
      `
<p>授权级别 Granted level: <strong data-level="${escapeHtml(level ?? 'none')}">${escapeHtml(level ? `${level} — ${LEVEL_LABELS[level]}` : 'none')}</strong></p>
<p>Token scope: <code>${escapeHtml(signedIn.scope)}</code> · 刷新令牌 Refresh token: ${signedIn.refreshToken ? 'yes' : 'no'}${fapi ? ' · FAPI 2.0: PAR, private_key_jwt, DPoP-bound tokens' : ''}</p>
<p>实名核验 realname_verified: <strong>${escapeHtml(userinfo.realname_verified ?? idClaims.realname_verified ?? false)}</strong></p>
${extra}
<h2>ID token claims</h2>${json(idClaims)}
<h2>Userinfo</h2>${json(userinfo)}
<form method="post" action="/logout"><button>退出 Sign out of this site</button></form>`,
    );
  }

  const app = new Koa();
  app.use(router.routes()).use(router.allowedMethods());
  const server = app.listen(options.port);
  await once(server, 'listening');
  return {
    server,
    url: `http://localhost:${options.port}/`,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** RFC 8935 §2.3: a refused SET, with its error code. */
function refuseSet(ctx: Context, err: string, description: string): void {
  ctx.status = 400;
  ctx.body = { err, description };
}

interface Attachment {
  url: string;
  desc?: string;
  digest?: { alg?: string; value?: string };
}

/** verified_claims (OpenID Connect for Identity Assurance) from userinfo or the ID token; one object or an array. */
function verifiedClaimsOf(signedIn: NonNullable<Session['signedIn']>): Record<string, unknown>[] {
  const value = signedIn.userinfo.verified_claims ?? signedIn.idClaims.verified_claims;
  return (Array.isArray(value) ? value : value ? [value] : []).filter((v) => typeof v === 'object' && v !== null);
}

function attachmentsOf(signedIn: NonNullable<Session['signedIn']>): Attachment[] {
  return verifiedClaimsOf(signedIn).flatMap((vc) => {
    const evidence = (vc.verification as { evidence?: unknown } | undefined)?.evidence;
    return (Array.isArray(evidence) ? evidence : []).flatMap((e: { attachments?: unknown }) =>
      (Array.isArray(e?.attachments) ? e.attachments : []).filter((a: Attachment) => typeof a?.url === 'string'),
    );
  });
}

/** The client's private key for its client assertions, from its JWK. */
async function importPrivateJwk(jwk: oidc.JWK & { alg: string }): Promise<oidc.CryptoKey> {
  return (await importJWK(jwk, jwk.alg)) as oidc.CryptoKey;
}

/**
 * FAPI 2.0 mode: the client's private key from `file`, created on first use with its public
 * JWKS beside it (`<file>.jwks.json`) for `client add --profile fapi2 --jwks`.
 */
export async function fapiKey(file: string): Promise<{ privateJwk: oidc.JWK & { alg: string }; created: boolean }> {
  if (existsSync(file)) return { privateJwk: JSON.parse(readFileSync(file, 'utf8')), created: false };
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomBytes(8).toString('hex');
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256' };
  writeFileSync(file, JSON.stringify(privateJwk), { mode: 0o600 });
  writeFileSync(`${file}.jwks.json`, JSON.stringify({ keys: [{ ...publicJwk, use: 'sig' }] }, null, 2));
  return { privateJwk: privateJwk as oidc.JWK & { alg: string }, created: true };
}

/** A small urlencoded form body (the only kind this site receives). */
async function readBody(ctx: Context): Promise<string> {
  let body = '';
  for await (const chunk of ctx.req) {
    body += chunk;
    if (body.length > 10_000) ctx.throw(413);
  }
  return body;
}

// Started directly (`npx tsx examples/merchant/server.ts`), not when imported by a test.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const {
    ISSUER = 'http://localhost:3000',
    CLIENT_ID,
    CLIENT_SECRET,
    PORT = '4000',
    REDIRECT_URI,
    FAPI,
    CLIENT_KEY = 'merchant-key.json',
  } = process.env;
  const fapiMode = FAPI === '1';
  const key = fapiMode ? await fapiKey(CLIENT_KEY) : undefined;
  if (key?.created || (fapiMode && !CLIENT_ID)) {
    console.error(`FAPI 2.0 mode. This site's private key is in ${CLIENT_KEY}; register its public keys once
(before \`npm start\`: the embedded database allows one process at a time):

  npm run cli -- client add --name "示例银行" --redirect-uri http://localhost:${PORT}/callback \\
    --levels result,credentials,dossier --profile fapi2 --jwks ${CLIENT_KEY}.jwks.json --userinfo-alg PS256 --json

then: FAPI=1 CLIENT_ID=… npm run example:merchant`);
    process.exit(1);
  }
  if (!CLIENT_ID || (!fapiMode && !CLIENT_SECRET)) {
    console.error(`Set CLIENT_ID and CLIENT_SECRET. Either use the demo merchant \`npm start\` prints (its redirect URI is on port 8080):

  PORT=8080 CLIENT_ID=demo-merchant CLIENT_SECRET=… npm run example:merchant

or register this site once (before \`npm start\`: the embedded database allows one process at a time):

  npm run cli -- client add --name "示例商城" --redirect-uri http://localhost:${PORT}/callback \\
    --levels result,credentials,dossier --category shopping --json

then: CLIENT_ID=… CLIENT_SECRET=… npm run example:merchant

Or FAPI=1 for a FAPI 2.0 client (PAR, private_key_jwt, DPoP), which makes its key first.`);
    process.exit(1);
  }
  startMerchantExample({
    issuer: ISSUER,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    ...(key ? { fapi: { privateJwk: key.privateJwk } } : {}),
    port: Number(PORT),
    redirectUri: REDIRECT_URI,
  })
    .then(({ url }) => console.log(`merchant example${key ? ' (FAPI 2.0)' : ''}: ${url}`))
    .catch((err) => {
      console.error(`The example merchant could not start (is the platform running at ${ISSUER}?):`, err);
      process.exit(1);
    });
}
