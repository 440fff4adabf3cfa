// How oidc-provider hands a person to our interaction pages: their address, the policy deciding
// which prompts (sign-in, step-up, consent) a request needs, and the acr values they can produce.
import type { Configuration } from 'oidc-provider';
import { ACR, platformPolicy } from './policy.js';

/** `stepUpMaxAge`: how recent (seconds) a person-document match a security-level-3 merchant needs. */
export function interactionOptions(stepUpMaxAge: number): Pick<Configuration, 'acrValues' | 'interactions'> {
  return {
    acrValues: [ACR.password, ACR.personMatch, ACR.phishingResistant],
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: platformPolicy(stepUpMaxAge),
    },
  };
}
