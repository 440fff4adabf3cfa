import type { CliContext } from './context.js';
import type { Options } from './options.js';

type Delivery = {
  createdAt: string;
  status: string;
  attempts: number;
  clientId: string;
  events: string[];
  endpoint: string;
  lastError?: string | null;
};

/**
 * `events list [--failed]`: the latest Security Event Tokens pushed to merchants (newest first),
 * with their status, attempts and the last error; `--failed` shows only those given up on (a
 * refusal such as an RFC 8935 error, or `notifications.maxAttempts` failed attempts).
 */
export async function eventsList(ctx: CliContext, options: Options): Promise<void> {
  const failed = options.failed === true;
  const { events } = (await (await ctx.admin()).securityEvents(failed ? { failed: 'true' } : {})) as {
    events: Delivery[];
  };
  ctx.print(
    { events },
    [
      `${events.length} ${failed ? 'failed ' : ''}security event(s) to merchants`,
      ...events.map((e) =>
        [
          e.createdAt,
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
