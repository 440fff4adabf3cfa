import { once } from 'node:events';
import { ConfigError, loadConfig } from './config/load.js';
import { schedulePurge } from './oidc/purge.js';
import { selfCheck } from './identity/selfcheck.js';
import { createPlatform } from './platform.js';
import { repeat } from './repeat.js';

// Start: load config, open the database, migrate, build the app, listen. Nothing else.
async function main(): Promise<void> {
  const started = performance.now();
  const config = loadConfig();
  const platform = await createPlatform(config);
  const { logger } = platform;
  const server = platform.app.listen(config.port, config.host);
  await once(server, 'listening');
  const stopPurge = schedulePurge(platform.db, {
    intervalSeconds: config.purge.interval,
    batchSize: config.purge.batchSize,
    onError: (err) => logger.error({ err }, 'purge of expired OIDC rows failed'),
  });
  const stopDelivery = repeat(() => platform.outbox.deliver(), config.notifications.interval * 1000, (err) =>
    logger.error({ err }, 'delivering notifications failed'),
  );
  // Seed 002's periodic self-check, daily; reminders are deduplicated per month in the outbox.
  const stopSelfCheck = repeat(
    () => selfCheck(platform.db, platform.outbox, { channel: config.notifications.channel, expiringWithinDays: 30, locale: 'zh-CN' }),
    24 * 3600 * 1000,
    (err) => logger.error({ err }, 'the verification self-check failed'),
  );
  const stopTreeHeads = platform.treeHeads.schedule(config.audit.headInterval * 1000, (err) =>
    logger.error({ err }, 'signing an audit tree head failed'),
  );

  const engine = config.databaseUrl ? 'PostgreSQL' : `embedded PGlite (${config.dataDir})`;
  console.log(`Real-name authorization platform ready in ${Math.round(performance.now() - started)} ms`);
  console.log(`  open:      ${config.issuer}/`);
  console.log(`  discovery: ${config.issuer}/.well-known/openid-configuration`);
  console.log(`  database:  ${engine}`);
  if (config.demoMerchant) {
    const demo = await platform.clients.ensureDemo('http://localhost:8080/callback');
    console.log(`  demo merchant: client_id=${demo.client_id} client_secret=${demo.client_secret}`);
    console.log(`                 redirect_uri=${demo.redirect_uris[0]} (authorization code + PKCE S256)`);
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    await Promise.all([stopPurge(), stopTreeHeads(), stopDelivery(), stopSelfCheck()]);
    server.close();
    server.closeIdleConnections();
    await once(server, 'close');
    await platform.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error('The platform failed to start:', err);
  }
  process.exit(1);
});
