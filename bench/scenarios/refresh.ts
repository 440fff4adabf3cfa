import type { BareProviders } from '../baseline/bare-provider.js';
import type { RequestVariant } from '../load/http-load.js';
import { fmt, verdict } from '../lib/report.js';
import { TARGETS } from '../lib/targets.js';
import {
  adapterRung,
  BARE_LOAD_CLIENT,
  basicAuth,
  connectionsPerTarget,
  describeLoad,
  describeRung,
  FORM,
  measureRung,
  sampled,
  serverCpu,
  tokenLoad,
  type ServerScenario,
} from './context.js';

// Scenario 2: refresh-token grants at level 2. A rotated refresh token is single-use, so each
// connection follows its chain: every request sends the token the previous response handed over,
// starting from tokens minted before the server started. Baselines: the bare provider refreshing
// its own tokens the same way, rotating them if the platform does, in memory and storing through
// the one-table adapter.

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
  const bareOptions = {
    refreshTokens: refreshChainStarts(connectionsPerTarget(options, processes, processes), 1),
    rotate: rotates,
  };
  const bareLoad = (b: BareProviders) =>
    tokenLoad(
      options,
      BARE_LOAD_CLIENT,
      b.urls.map((url) => ({ url, variants: b.refreshTokens.get(url)!.map(refreshBody) })),
      processes,
      { follow: FOLLOW },
    );
  const rungs = [
    await measureRung(scenario, bareOptions, bareLoad),
    await measureRung(scenario, { ...bareOptions, ...adapterRung(scenario) }, bareLoad),
  ];
  const adapter = rungs[1]!;
  const perCore = platform.perSecond / processes;
  const share = platform.perSecond / adapter.load.perSecond;
  report.record(`refresh/${server.layout.name}`, {
    platform,
    baselines: rungs,
    per_core: Math.round(perCore),
    share_of_adapter: share,
    rotated: rotates,
  });
  report.add({
    scenario: `refresh_token${rotates ? ' (rotating)' : ''}`,
    setting: server.layout.name,
    result: `${describeLoad(platform)}; ${fmt(perCore)}/core; ${serverCpu(scenario.usage.refresh, platform.perSecond)}; ${fmt(share * 100)}% of ${adapter.name}`,
    baseline: rungs.map(describeRung).join('; '),
    target: `≥ ${TARGETS.refreshOfAdapter * 100}% of ${adapter.name}`,
    verdict: verdict(share, '>=', TARGETS.refreshOfAdapter),
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
