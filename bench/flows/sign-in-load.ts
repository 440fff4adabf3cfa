import type { Argon2Params } from '../../src/accounts/password.js';
import { runChild } from '../lib/processes.js';
import type { LatencySummary } from '../lib/stats.js';
import type { Client, Person } from '../setup/fixtures.js';

// Load of whole sign-in flows from a fixed number of concurrent browsers, and its ceiling: raw
// argon2 verifications at the same concurrency. Each runs in a process of its own.

export interface SignInLoadSpec {
  issuer: string;
  /** The layout's ports; browser i talks to bases[i % bases.length]. */
  bases: string[];
  /** Each base's own issuer, where the processes are separate providers (the bare rung); else `issuer`. */
  issuers?: string[];
  merchant: Client;
  /** The flows' scope (default `openid realname`, level 1). */
  scope?: string;
  /** The merchant authenticates with client_secret_basic (default: openid-client's client_secret_post). */
  basicAuth?: boolean;
  people: Person[];
  browsers: number;
  seconds: number;
  warmup: number;
}

export interface RateResult extends LatencySummary {
  perSecond: number;
  errors: number;
  /** CPU time the load process itself spent per operation (it shares the machine's cores). */
  ownCpuMsPerOperation: number;
  /** The first few errors, to tell a broken flow from a slow one. */
  errorSamples?: string[];
}

export function runSignInLoad(spec: SignInLoadSpec): Promise<RateResult> {
  return runChild<SignInLoadSpec, RateResult>(new URL('./sign-in-child.ts', import.meta.url), spec);
}

export interface Argon2CeilingSpec {
  params: Argon2Params;
  concurrency: number;
  seconds: number;
  warmup: number;
}

export function runArgon2Ceiling(spec: Argon2CeilingSpec): Promise<RateResult> {
  return runChild<Argon2CeilingSpec, RateResult>(new URL('./argon2-child.ts', import.meta.url), spec);
}
