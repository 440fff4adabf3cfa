import { randomUUID } from 'node:crypto';

// The Security Event Tokens the platform sends merchants (RFC 8417), with the subject identifiers
// of the OpenID Shared Signals Framework 1.0 and the events of CAEP 1.0 and RISC 1.0 where one fits.

/** CAEP 1.0 §3.1: every session (here: the grant) the merchant holds for the subject is over. */
export const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
/** RISC 1.0 §2.2: the account was purged; nothing about it will come again. */
export const ACCOUNT_PURGED = 'https://schemas.openid.net/secevent/risc/event-type/account-purged';
/**
 * The platform's own event (RFC 8417 §2.2 lets an event type be any URI): the person lowered the
 * merchant's grant level; the event names `previous_level` and `level` (`result`, `credentials`,
 * `dossier`). CAEP's `token-claims-change` would say "claims changed" without saying which way,
 * and its `claims` member would have to carry claim values.
 */
export const GRANT_LEVEL_LOWERED = 'urn:realname:secevent:grant-level-lowered';

export type MerchantEvent =
  | { type: 'grant_revoked' }
  | { type: 'level_lowered'; previousLevel: string; level: string }
  | { type: 'account_purged' };

/** The claims of one SET to one merchant about one subject. */
export interface SecurityEventClaims {
  iss: string;
  aud: string;
  iat: number;
  jti: string;
  /** SSF 1.0 §4.1 (RFC 9493 `iss_sub`): the subject as the merchant knows it, its pairwise `sub`. */
  sub_id: { format: 'iss_sub'; iss: string; sub: string };
  events: Record<string, Record<string, unknown>>;
}

/**
 * A SET's claims (RFC 8417 §2.2): `iss`, `aud` (the merchant's client_id), `iat`, a fresh `jti`,
 * and one event. No `sub` claim and no `exp`: SSF 1.0 puts the subject in `sub_id`, and RFC 8417
 * §2.2 says a SET describes a fact, not a grant of access that would expire.
 */
export function securityEventClaims(input: {
  issuer: string;
  clientId: string;
  /** The pairwise `sub` this merchant received for the account. */
  subject: string;
  event: MerchantEvent;
  now?: Date;
}): SecurityEventClaims {
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  return {
    iss: input.issuer,
    aud: input.clientId,
    iat,
    jti: randomUUID(),
    sub_id: { format: 'iss_sub', iss: input.issuer, sub: input.subject },
    events: eventMember(input.event, iat),
  };
}

function eventMember(event: MerchantEvent, iat: number): SecurityEventClaims['events'] {
  switch (event.type) {
    case 'grant_revoked':
      // CAEP 1.0 §2: `initiating_entity` "user" (the person revoked it on their account page).
      return { [SESSION_REVOKED]: { initiating_entity: 'user', event_timestamp: iat } };
    case 'level_lowered':
      return {
        [GRANT_LEVEL_LOWERED]: {
          previous_level: event.previousLevel,
          level: event.level,
          initiating_entity: 'user',
          event_timestamp: iat,
        },
      };
    case 'account_purged':
      return { [ACCOUNT_PURGED]: {} };
  }
}

/** RFC 8417 §2.3: the `typ` of a SET's JOSE header. */
export const SET_TYPE = 'secevent+jwt';
