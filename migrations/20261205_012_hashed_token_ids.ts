import type { Knex } from 'knex';

// From this migration on, oidc_payloads stores the ids of tokens, codes, sessions and interactions
// as keyed hashes (src/oidc/token-ids.ts); Grant and ReplayDetection ids stay in clear. Rows
// written before hold the bearer values in clear, and any copy of the database taken until now
// holds them too: they are deleted rather than re-keyed, so a leaked copy opens nothing once this
// has run. The price is one sign-out: people sign in again and merchants' refresh tokens end
// (their grants, so consent, are kept). The key lives sealed in platform_keys, out of a
// migration's reach, which is another reason not to re-key here.

export async function up(knex: Knex): Promise<void> {
  await knex('oidc_payloads').whereNotIn('model', ['Grant', 'ReplayDetection']).delete();
}

export async function down(): Promise<void> {
  // Nothing to restore: the deleted tokens and sessions are gone for good, as intended.
}
