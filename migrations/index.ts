import type { Knex } from 'knex';
import * as core from './20261123_001_core.js';
import * as audit from './20261123_002_audit.js';
import * as registry from './20261123_003_registry.js';
import * as identity from './20261123_004_identity.js';
import * as outbox from './20261123_005_outbox.js';
import * as grants from './20261123_006_grants.js';
import * as credentials from './20261123_007_merchant_credentials.js';
import * as dossier from './20261123_008_dossier.js';
import * as auditQueue from './20261123_009_audit_queue.js';
import * as rateLimits from './20261123_010_rate_limits.js';
import * as hashedTokenIds from './20261205_012_hashed_token_ids.js';
import * as dropRateCounters from './20261205_013_drop_rate_counters.js';
import * as passkeys from './20261205_014_passkeys.js';
import * as security from './20261205_015_security.js';
import * as passwordResets from './20261206_016_password_resets.js';
import * as accountDisable from './20261206_017_account_disable.js';
import * as merchantEvents from './20261206_018_merchant_events.js';
import * as dataRights from './20261206_019_data_rights.js';
import * as operators from './20261206_020_operators.js';
import * as rateLimitsUnlogged from './20261206_021_rate_limits_unlogged.js';

// Migrations are listed here (not discovered on disk) so the same source works under tsx,
// jest and compiled output. Append new ones; never edit one that has landed.
const migrations: Record<string, Knex.Migration> = {
  '20261123_001_core': core,
  '20261123_002_audit': audit,
  '20261123_003_registry': registry,
  '20261123_004_identity': identity,
  '20261123_005_outbox': outbox,
  '20261123_006_grants': grants,
  '20261123_007_merchant_credentials': credentials,
  '20261123_008_dossier': dossier,
  '20261123_009_audit_queue': auditQueue,
  '20261123_010_rate_limits': rateLimits,
  '20261205_012_hashed_token_ids': hashedTokenIds,
  '20261205_013_drop_rate_counters': dropRateCounters,
  '20261205_014_passkeys': passkeys,
  '20261205_015_security': security,
  '20261206_016_password_resets': passwordResets,
  '20261206_017_account_disable': accountDisable,
  '20261206_018_merchant_events': merchantEvents,
  '20261206_019_data_rights': dataRights,
  '20261206_020_operators': operators,
  '20261206_021_rate_limits_unlogged': rateLimitsUnlogged,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
