import * as oidc from 'openid-client';
import { expect } from '@jest/globals';
import type { Platform } from '../../src/platform.js';
import { startTestPlatform } from './platform.js';
import { formAction, UserAgent, type Page } from './user-agent.js';

export const CALLBACK = 'http://localhost:8080/callback';
/** A second merchant's callback, on another host (so another pairwise sector). */
export const OTHER_CALLBACK = 'http://127.0.0.1:8080/callback';
const isCallback = (url: string) => url.startsWith(CALLBACK) || url.startsWith(OTHER_CALLBACK);

let counter = 0;
/** A unique, valid login for a test person. */
export function newLogin(): string {
  counter += 1;
  return `person${counter}.${process.pid}.${Date.now().toString(36)}@example.test`;
}

/** Registers a merchant through the same service the CLI uses. */
export async function addMerchant(platform: Platform, overrides: Record<string, unknown> = {}) {
  return platform.clients.add({ name: 'Test merchant', redirectUris: [CALLBACK], category: 'retail', ...overrides });
}

/** The merchant's openid-client configuration, from the platform's discovery document. */
export function discover(issuer: string, clientId: string, clientSecret: string) {
  return oidc.discovery(new URL(issuer), clientId, clientSecret, undefined, {
    execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks],
  });
}

export interface AuthorizationStart {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

/** Builds an authorization request with PKCE S256, state and nonce, as a merchant would. */
export async function startAuthorization(
  config: oidc.Configuration,
  params: Record<string, string> = {},
): Promise<AuthorizationStart> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope: 'openid email offline_access',
    prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}

/** A person's browser that stops when it is sent back to the merchant's callback. */
export function personBrowser(userAgent?: string): UserAgent {
  return new UserAgent(isCallback, userAgent);
}

/**
 * Walks a person through sign-in (registering, then signing in, when `register`), then consent, following
 * the real redirects and posting the real forms. Returns the page the merchant receives.
 */
export async function signInAndConsent(
  agent: UserAgent,
  authorizationUrl: URL,
  person: { login: string; password: string; register?: boolean; level?: string; partial?: string },
): Promise<Page> {
  let page = await agent.navigate(authorizationUrl.toString());
  if (isCallback(page.url)) return page;
  if (person.register) {
    page = await agent.navigate(
      new URL(new URL(formAction(page, '/login')).pathname.replace(/\/login$/, '/register'), page.url).toString(),
    );
    page = await registerAndSignIn(agent, page, { login: person.login, password: person.password });
  } else if (formActionsInclude(page, '/login')) {
    page = await agent.submit(formAction(page, '/login'), { login: person.login, password: person.password });
  }
  if (isCallback(page.url)) return page;
  return agent.submit(formAction(page, '/confirm'), {
    ...(person.level ? { level: person.level } : {}),
    ...(person.partial ? { partial: person.partial } : {}),
  });
}

/**
 * Past the page that shows a merchant's level-2 credentials once (when `page` is it): follows its
 * button on to the merchant's callback.
 */
export async function continuePastCredentials(agent: UserAgent, page: Page): Promise<Page> {
  const next = /<a class="button" href="([^"]+)"/.exec(page.html)?.[1];
  return next ? agent.navigate(new URL(next.replaceAll('&amp;', '&'), page.url).toString()) : page;
}

/**
 * Registers on a registration page, then signs in with the same login and password, as the
 * platform asks (it answers every registration with its sign-in form, whether or not the login
 * was taken). Returns where the sign-in lands.
 */
export async function registerAndSignIn(
  agent: UserAgent,
  registerPage: Page,
  person: { login: string; password: string },
): Promise<Page> {
  const answer = await agent.submit(formAction(registerPage, '/register'), person);
  if (answer.status !== 200 || !formActionsInclude(answer, '/login'))
    throw new Error(`registration answered ${answer.status} without the sign-in form`);
  return agent.submit(formAction(answer, '/login'), person);
}

function formActionsInclude(page: Page, suffix: string): boolean {
  try {
    formAction(page, suffix);
    return true;
  } catch {
    return false;
  }
}

/** A platform with one registered merchant and that merchant's openid-client configuration. */
export async function startWithMerchant(overrides: Record<string, unknown> = {}) {
  const running = await startTestPlatform(overrides);
  const merchant = await addMerchant(running.platform);
  const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
  return { running, merchant, config };
}

/**
 * Redeems the code the merchant's callback received (PKCE, state and nonce checked by
 * openid-client) and checks the ID token names this issuer, this merchant and a pairwise subject.
 */
export async function redeemCode(config: oidc.Configuration, callback: URL, start: AuthorizationStart) {
  const tokens = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: start.verifier,
    expectedState: start.state,
    expectedNonce: start.nonce,
  });
  const claims = tokens.claims()!;
  expect(claims.iss).toBe(config.serverMetadata().issuer);
  expect(claims.aud).toBe(config.clientMetadata().client_id);
  expect(claims.sub).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return { tokens, claims };
}
