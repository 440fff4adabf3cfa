import cluster from 'node:cluster';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import { joinCluster, startCluster, workerCount } from './cluster.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { schedulePurge } from './oidc/purge.js';
import { selfCheck } from './identity/selfcheck.js';
import { createPlatform, type Platform } from './platform.js';
import { repeat } from './repeat.js';

// Start: load config, open the database, migrate, build the app, listen. Nothing else.
// With cluster.workers, this process is the primary and forks workers that each do exactly that.
async function main(): Promise<void> {
  const started = performance.now();
  const config = loadConfig();
  if (cluster.isPrimary && workerCount(config) > 0) return startCluster(config, started);
  // Listened to from the start: a signal that comes while starting stops the process once started.
  let shutdown: ((signal: string) => Promise<void>) | undefined; // eslint-disable-line prefer-const -- set once started
  let signalled: string | undefined;
  const onSignal = (signal: string) => (shutdown ? void shutdown(signal) : (signalled ??= signal));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const platform = await createPlatform(config);
  const { logger } = platform;
  const server = await serve(platform);
  const stopJobs = config.scheduledJobs ? scheduleJobs(platform) : async () => {};
  // In a cluster the primary announces the start, once for all workers.
  if (cluster.isWorker) joinCluster(platform, logger);
  else announce(config, started);
  if (config.demoMerchant) {
    const demo = await platform.clients.ensureDemo('http://localhost:8080/callback');
    console.log(`  demo merchant: client_id=${demo.client_id} client_secret=${demo.client_secret}`);
    console.log(`                 redirect_uri=${demo.redirect_uris[0]} (authorization code + PKCE S256)`);
  }

  let stopping = false;
  shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, inFlight: server.inFlight() }, 'shutting down: finishing in-flight requests');
    // The last resort, should a handler or closing the database hang.
    setTimeout(
      () => {
        logger.error('shutdown did not finish in time');
        process.exit(1);
      },
      (config.shutdownTimeout + 10) * 1000,
    ).unref();
    platform.health.drain();
    const cut = () =>
      logger.warn(
        { inFlight: server.inFlight() },
        'closing the connections of requests still running after shutdownTimeout',
      );
    await Promise.all([server.drain(config.shutdownTimeout * 1000, cut), stopJobs()]);
    // What the last requests queued goes into the tree now rather than at the next start.
    if (config.scheduledJobs)
      await platform.audit
        .integrateAll()
        .catch((err) => logger.error({ err }, 'integrating queued audit events failed'));
    await platform.close();
    logger.info({ signal }, 'stopped');
    process.exit(0);
  };
  if (signalled) await shutdown(signalled);
}

/**
 * Serves the app over HTTP. Requests are counted until their handler has finished, not only
 * until their socket closes, so a shutdown closes the database after the last handler is done.
 */
async function serve(platform: Platform) {
  const { config, health } = platform;
  const handle = platform.app.callback();
  const inFlight = new Set<ServerResponse>();
  let idle = () => {};
  const worker = cluster.isWorker ? String(process.pid) : undefined;
  const server = createServer((req, res) => {
    inFlight.add(res);
    if (worker) res.setHeader('X-Worker', worker);
    if (health.isDraining) res.setHeader('Connection', 'close');
    void handle(req, res).finally(() => {
      inFlight.delete(res);
      if (inFlight.size === 0) idle();
    });
  });
  server.listen(config.port, config.host);
  await once(server, 'listening');
  return {
    inFlight: () => inFlight.size,
    /**
     * Stops accepting, lets in-flight requests finish within `timeoutMs`, then closes their
     * connections (calling `onTimeout`) and waits for their handlers to finish.
     */
    async drain(timeoutMs: number, onTimeout: () => void) {
      // Responses still to be sent close their connection, so keep-alive clients go elsewhere.
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      const closed = once(server, 'close');
      server.close(); // idle keep-alive connections are closed at once
      const finished = inFlight.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (idle = resolve));
      const force = setTimeout(() => {
        onTimeout();
        server.closeAllConnections();
      }, timeoutMs);
      await Promise.all([closed, finished]);
      clearTimeout(force);
    },
  };
}

/** The background jobs; the returned function stops them, waiting for runs in progress. */
function scheduleJobs(platform: Platform): () => Promise<void> {
  const { config, logger } = platform;
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
    // Security-log events past their retention, and session rows long ended, hourly.
    repeat(
      () => platform.securityLog.prune(),
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

function announce(config: Config, started: number): void {
  const engine = config.databaseUrl ? 'PostgreSQL' : `embedded PGlite (${config.dataDir})`;
  console.log(`Real-name authorization platform ready in ${Math.round(performance.now() - started)} ms`);
  console.log(`  open:      ${config.issuer}/`);
  console.log(`  discovery: ${config.issuer}/.well-known/openid-configuration`);
  console.log(`  database:  ${engine}`);
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error('The platform failed to start:', err);
  }
  process.exit(1);
});
