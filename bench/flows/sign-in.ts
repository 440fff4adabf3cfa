import * as oidc from 'openid-client';
import { formAction, UserAgent, type Page } from '../../test/helpers/user-agent.js';
import { CALLBACK, PASSWORD, type Client, type Person } from '../setup/fixtures.js';

// One person's whole authorization code flow, as a browser and a merchant (openid-client) do it:
// authorize → sign-in form → consent form → code at the callback → token. Forms are posted with
// their hidden fields (the CSRF token) as a browser would post them.

/** The merchant's openid-client configuration from the issuer's discovery document. */
export function merchantConfiguration(
  issuer: string,
  merchant: Client,
  basicAuth = false,
): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(issuer),
    merchant.clientId,
    merchant.clientSecret,
    basicAuth ? oidc.ClientSecretBasic(merchant.clientSecret) : undefined,
    { execute: [oidc.allowInsecureRequests] },
  );
}

export interface FlowRequest {
  /** The base URL the browser talks to (one of the layout's ports); the token request goes to the issuer. */
  base: string;
  person: Person;
  scope: string;
  level: 'result' | 'credentials' | 'dossier';
}

/** Runs the flow; returns the token response. Throws with the page it got stuck on. */
export async function signInFlow(
  config: oidc.Configuration,
  request: FlowRequest,
): Promise<oidc.TokenEndpointResponse> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope: request.scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const agent = new UserAgent((at) => at.startsWith(CALLBACK));
  let page = await agent.navigate(new URL(`${url.pathname}${url.search}`, request.base).toString());
  page = await post(agent, page, '/login', { login: request.person.login, password: PASSWORD });
  if (!atCallback(page)) {
    page = await post(agent, page, '/confirm', {
      level: request.level,
      ...(request.level === 'dossier' ? { partial: request.person.partial } : {}),
    });
  }
  // Level 2's first consent shows the new credentials once, with a link on to the merchant.
  const onward = !atCallback(page) && /<a class="button" href="([^"]+)"/.exec(page.html)?.[1];
  if (onward) page = await agent.navigate(new URL(onward.replaceAll('&amp;', '&'), page.url).toString());
  if (!atCallback(page))
    throw new Error(`the flow stopped at ${page.url} (status ${page.status}): ${page.html.slice(0, 500)}`);
  return oidc.authorizationCodeGrant(config, new URL(page.url), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
  });
}

function atCallback(page: Page): boolean {
  return page.url.startsWith(CALLBACK);
}

/** Submits the page's form that posts to `…suffix`, its hidden fields included, with `fields`. */
function post(agent: UserAgent, page: Page, suffix: string, fields: Record<string, string>): Promise<Page> {
  const action = formAction(page, suffix);
  return agent.submit(action, { ...hiddenFields(page, action), ...fields });
}

/** The hidden inputs (`_csrf` and any other) of the form posting to `action`. */
export function hiddenFields(page: Page, action: string): Record<string, string> {
  for (const [, attributes = '', content = ''] of page.html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const target = /\baction="([^"]+)"/.exec(attributes)?.[1];
    if (!target || new URL(target, page.url).toString() !== action) continue;
    const inputs = [...content.matchAll(/<input\b[^>]*>/g)].map(([tag]) => tag);
    return Object.fromEntries(
      inputs
        .filter((tag) => /\btype="hidden"/.test(tag))
        .map((tag) => [/\bname="([^"]*)"/.exec(tag)?.[1] ?? '', /\bvalue="([^"]*)"/.exec(tag)?.[1] ?? ''])
        .filter(([name]) => name),
    );
  }
  return {};
}
