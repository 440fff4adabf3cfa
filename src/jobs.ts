import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import type { Db } from './db/index.js';
import { selfCheck } from './identity/selfcheck.js';
import { schedulePurge } from './oidc/purge.js';
import { repeat } from './repeat.js';
import type { Services } from './services.js';

// The background jobs of every server process (config.scheduledJobs), on the services it built.

/** The background jobs; the returned function stops them, waiting for runs in progress. */
export function scheduleJobs(
  platform: Pick<
    Services,
    'outbox' | 'audit' | 'treeHeads' | 'securityLog' | 'recovery' | 'closure' | 'verifications'
  > & {
    config: Config;
    db: Db;
    logger: Logger;
  },
): () => Promise<void> {
  const { config, logger } = platform;
  let legacyPersonsLeft = true;
  const stops = [
    schedulePurge(platform.db, {
      intervalSeconds: config.purge.interval,
      batchSize: config.purge.batchSize,
      onError: (err) => logger.error({ err }, 'purge of expired OIDC rows failed'),
    }),
    repeat(
      () => platform.outbox.deliver(),
      config.notifications.interval * 1000,
      (err) => logger.error({ err }, 'delivering notifications failed'),
    ),
    // The periodic self-check (docs/verification.md#reminders), daily; reminders are deduplicated
    // per month in the outbox.
    repeat(
      () =>
        selfCheck(platform.db, platform.outbox, {
          channel: config.notifications.channel,
          expiringWithinDays: 30,
          locale: 'zh-CN',
        }),
      24 * 3600 * 1000,
      (err) => logger.error({ err }, 'the verification self-check failed'),
    ),
    // Persons sealed before data keys existed, moved under keys of their own: a batch a minute
    // until none is left (docs/security.md#key-hierarchy-and-erasure). A person made since has
    // its key from the start, so once a run finds none this process asks no more.
    repeat(
      async () => {
        if (legacyPersonsLeft) legacyPersonsLeft = (await platform.verifications.sealUnderPersonKeys()) > 0;
      },
      60 * 1000,
      (err) => logger.error({ err }, 'sealing persons under their data keys failed'),
    ),
    // Accounts whose closure waited out accountClosure.delayDays, hourly.
    repeat(
      () => platform.closure.closeDue(),
      3600 * 1000,
      (err) => logger.error({ err }, 'closing accounts that are due failed'),
    ),
    // Security-log events past their retention, session rows long ended and expired reset codes, hourly.
    repeat(
      async () => {
        await platform.securityLog.prune();
        await platform.recovery.prune();
      },
      3600 * 1000,
      (err) => logger.error({ err }, 'pruning the security log failed'),
    ),
    platform.audit.schedule(config.audit.integrateInterval, (err) =>
      logger.error({ err }, 'integrating queued audit events failed'),
    ),
    platform.treeHeads.schedule(config.audit.headInterval * 1000, (err) =>
      logger.error({ err }, 'signing an audit tree head failed'),
    ),
  ];
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}
