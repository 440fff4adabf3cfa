import type { AuditEventInput } from '../../src/audit/events.js';

// Made-up audit events as a grant writes them, about accounts, merchants and (optionally) people.

export interface Population {
  /** Blind indexes of people (see identity/blind-index.ts); events cycle through them. */
  persons: string[];
  merchants: number;
  accounts: number;
}

export const DEFAULT_POPULATION: Population = { persons: [], merchants: 50, accounts: 5000 };

/** The merchant (client id) of the k-th bench merchant, as the notary API is asked about it. */
export const benchMerchant = (k: number) => `merchant-${k}`;

/** The i-th event: a consent at level 1, about account i mod accounts, merchant i mod merchants, person i mod persons. */
export function benchEvent(i: number, population: Population = DEFAULT_POPULATION): AuditEventInput {
  const account = `acc-${i % population.accounts}`;
  const person = population.persons.length ? population.persons[i % population.persons.length] : undefined;
  return {
    type: 'consent.granted',
    actor: { type: 'account', id: account },
    subjects: { account, client: benchMerchant(i % population.merchants), ...(person ? { person } : {}) },
    payload: { grant_id: `grant-${i}`, level: 'result', scopes: ['openid', 'realname'] },
  };
}
