import { decodeJwt } from 'jose';
import type { CliContext } from './context.js';
import type { Options } from './options.js';

/**
 * `events list [--failed]`: the latest Security Event Tokens pushed to merchants (newest first),
 * with their status, attempts and the last error; `--failed` shows only those given up on (a
 * refusal such as an RFC 8935 error, or `notifications.maxAttempts` failed attempts).
 */
export async function eventsList(ctx: CliContext, options: Options): Promise<void> {
  const failed = options.failed === true;
  const deliveries = await (await (await ctx.local()).services()).outbox.securityEvents({ failed }, 200);
  const events = deliveries.map(({ token, ...delivery }) => {
    const claims = token ? decodeJwt(token) : {};
    return {
      ...delivery,
      jti: claims.jti,
      events: Object.keys((claims.events as Record<string, unknown> | undefined) ?? {}),
    };
  });
  ctx.print(
    { events },
    [
      `${events.length} ${failed ? 'failed ' : ''}security event(s) to merchants`,
      ...events.map((e) =>
        [
          e.createdAt.toISOString(),
          e.status.padEnd(7),
          `attempts ${e.attempts}`,
          e.clientId,
          e.events.join(','),
          e.endpoint,
          e.lastError ?? '',
        ].join('  '),
      ),
    ].join('\n'),
  );
}
