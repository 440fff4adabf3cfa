import { BARE_CLIENT, withBareProviders } from '../baseline/bare-provider.js';
import type { RequestVariant } from '../load/http-load.js';
import { cpuMsPerRequest, whileSampling } from '../lib/proc.js';
import { fmt, verdict } from '../lib/report.js';
import { TARGETS } from '../lib/targets.js';
import {
  basicAuth,
  connectionsPerTarget,
  describeLoad,
  FORM,
  sampled,
  serverCpu,
  tokenLoad,
  type ServerScenario,
} from './context.js';

// Scenario 2: refresh-token grants at level 2. A rotated refresh token is single-use, so each
// connection follows its chain: every request sends the token the previous response handed over,
// starting from tokens minted before the server started. Baseline: the bare provider refreshing
// its own tokens the same way, rotating them if the platform does.

const TEMPLATE = 'grant_type=refresh_token&refresh_token={}';
const FOLLOW = { field: 'refresh_token', template: TEMPLATE };
const refreshBody = (token: string): RequestVariant => ({ body: TEMPLATE.replace('{}', token) });

/**
 * Chain starts one layout's run needs: per connection one for the warm-up, one for the measured
 * run, and spares for chains a failed request breaks.
 */
export function refreshChainStarts(connections: number, processes: number): number {
  return 4 * connections * processes;
}

export async function measureRefresh(scenario: ServerScenario): Promise<void> {
  const { options, server, fixtures, report } = scenario;
  const { processes } = server.layout;
  const [probe, ...pool] = fixtures.refreshTokens;
  const rotates = await rotatesRefreshTokens(server.urls[0]!, fixtures, probe!);
  const hands = deal(pool.slice(0, refreshChainStarts(options.connections, processes)), server.urls.length);
  const targets = server.urls.map((url, i) => ({ url, variants: hands[i]!.map(refreshBody) }));
  const platform = await sampled(scenario, 'refresh', () =>
    tokenLoad(options, fixtures.merchant, targets, processes, { follow: FOLLOW }),
  );
  const bareClient = { clientId: BARE_CLIENT.client_id, clientSecret: BARE_CLIENT.client_secret };
  const { result: bare, usage: bareUsage } = await withBareProviders(
    processes,
    (b) =>
      whileSampling(b.pids, () =>
        tokenLoad(
          options,
          bareClient,
          b.urls.map((url) => ({ url, variants: b.refreshTokens.get(url)!.map(refreshBody) })),
          processes,
          { follow: FOLLOW },
        ),
      ),
    { refreshTokens: refreshChainStarts(connectionsPerTarget(options, processes, processes), 1), rotate: rotates },
  );
  const perCore = platform.perSecond / processes;
  report.record(`refresh/${server.layout.name}`, {
    platform,
    bare,
    bare_usage: bareUsage,
    per_core: Math.round(perCore),
    rotated: rotates,
  });
  report.add({
    scenario: 'refresh_token',
    setting: server.layout.name,
    result: `${describeLoad(platform)}; ${fmt(perCore)}/core; ${serverCpu(scenario.usage.refresh, platform.perSecond)}`,
    baseline: `bare${rotates ? ' (rotating)' : ''} ${describeLoad(bare)} (${fmt((platform.perSecond / bare.perSecond) * 100)}%); CPU ${fmt(cpuMsPerRequest(bareUsage, bare.perSecond))} ms/req`,
    target: `≥ ${TARGETS.refreshPerCore}/core`,
    verdict: verdict(perCore, '>=', TARGETS.refreshPerCore),
  });
}

/** Whether the platform rotates refresh tokens: one refresh, and is the token handed back new? */
async function rotatesRefreshTokens(
  base: string,
  fixtures: ServerScenario['fixtures'],
  token: string,
): Promise<boolean> {
  const response = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { ...FORM, ...basicAuth(fixtures.merchant) },
    body: refreshBody(token).body,
  });
  if (!response.ok) throw new Error(`refresh probe: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { refresh_token?: string }).refresh_token !== token;
}

/** `items` dealt round-robin into `n` hands. */
function deal<T>(items: T[], n: number): T[][] {
  return Array.from({ length: n }, (_, hand) => items.filter((_, i) => i % n === hand));
}
