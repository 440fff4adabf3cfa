// The interaction router: each address of an authorization's interaction and the step that answers it.
import Router from '@koa/router';
import { abortInteraction } from './abort.js';
import { confirmConsent } from './confirm.js';
import type { InteractionDeps } from './interaction.js';
import { passkeyMissing, passkeySecondFactor, passkeySignIn, passkeySignInOptions } from './passkey.js';
import { register, showRegistration } from './register.js';
import { signIn } from './sign-in.js';
import { startInteraction } from './start.js';
import { showStepUp, submitStepUp } from './step-up.js';
import { showVerification, submitVerification } from './verify.js';

export type { InteractionDeps } from './interaction.js';

/**
 * Sign-in, registration and consent pages for oidc-provider's interactions (its login and consent
 * prompts). Each flow ends by handing a result back to the provider, which resumes the
 * authorization request (oidc-provider README: "interactions").
 */
export function interactionRoutes(deps: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  router.get('/', startInteraction(deps));
  router.post('/login', signIn(deps));
  router.post('/passkey/options', passkeySignInOptions(deps));
  router.post('/passkey', passkeySignIn(deps));
  router.post('/passkey/second-factor', passkeySecondFactor(deps));
  router.post('/passkey/missing', passkeyMissing(deps));
  router.get('/register', showRegistration(deps));
  router.post('/register', register(deps));
  router.get('/verify', showVerification(deps));
  router.post('/verify', submitVerification(deps));
  router.get('/step-up', showStepUp(deps));
  router.post('/step-up', submitStepUp(deps));
  router.post('/confirm', confirmConsent(deps));
  router.post('/abort', abortInteraction(deps));
  return router;
}
