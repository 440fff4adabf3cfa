// The shapes a browser sends back from navigator.credentials.create() and .get(), as JSON
// (WebAuthn L3 §5.1: RegistrationResponseJSON, AuthenticationResponseJSON), checked before any of
// it is decoded. Sizes are bounded well above what authenticators send, and below the body limit.
import { z } from 'zod';
import { PASSKEY_NAME_MAX } from './service.js';
import { text } from '../validation.js';

const base64url = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+$/, 'base64url');

const common = {
  id: base64url(1400),
  rawId: base64url(1400),
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
};

export const registrationResponse = z.object({
  ...common,
  response: z.object({
    clientDataJSON: base64url(2048),
    attestationObject: base64url(8192),
    authenticatorData: base64url(4096).optional(),
    transports: z.array(z.string().max(20)).max(10).optional(),
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: base64url(2048).optional(),
  }),
});

export const authenticationResponse = z.object({
  ...common,
  response: z.object({
    clientDataJSON: base64url(2048),
    authenticatorData: base64url(4096),
    signature: base64url(1024),
    userHandle: base64url(128).optional(),
  }),
});

/** A passkey's name as the person types it: trimmed, something left, one line. */
export const passkeyName = text(PASSKEY_NAME_MAX)
  .transform((name) => name.trim())
  .refine((name) => name.length > 0 && !/[\p{Cc}]/u.test(name), { message: 'a name of one line' });

/** A new passkey from the account page's script. */
export const newPasskey = z.object({ name: passkeyName, response: registrationResponse });
/** A passkey's answer on the sign-in pages. */
export const passkeyAnswer = z.object({ response: authenticationResponse });
