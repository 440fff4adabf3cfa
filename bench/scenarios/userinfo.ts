import { merchantConfiguration, signInFlow, type FlowRequest } from '../flows/sign-in.js';
import { runHttpLoad } from '../load/http-load.js';
import { fmt, verdict } from '../lib/report.js';
import { TARGETS } from '../lib/targets.js';
import {
  adapterRung,
  connectionsPerTarget,
  describeLoad,
  describeRung,
  measureRung,
  sampled,
  serverCpu,
  type Rung,
  type ServerScenario,
} from './context.js';

// Scenario 4: userinfo at each grant level, with access tokens from real flows at that level
// (taken just before, so none expires during the run), used in turn by the load. Baseline: the
// bare provider's userinfo storing through the one-table adapter (its tokens' `sub` only).

const LEVELS: Array<{ level: FlowRequest['level']; scope: string }> = [
  { level: 'result', scope: 'openid realname' },
  { level: 'credentials', scope: 'openid realname:credentials' },
  { level: 'dossier', scope: 'openid realname:dossier' },
];

/** Access tokens per level: one flow per person, at most this many. */
const TOKENS_PER_LEVEL = 8;

export async function measureUserinfo(scenario: ServerScenario): Promise<void> {
  const { options, server, fixtures, report } = scenario;
  const config = await merchantConfiguration(server.issuer, fixtures.merchant);
  const adapter = await measureAdapterUserinfo(scenario);
  for (const { level, scope } of LEVELS) {
    const tokens: string[] = [];
    for (const person of fixtures.people.slice(0, TOKENS_PER_LEVEL)) {
      tokens.push((await signInFlow(config, { base: server.urls[0]!, person, scope, level })).access_token);
    }
    const result = await sampled(scenario, `userinfo ${level}`, () =>
      runHttpLoad({
        targets: server.urls.map((url) => ({
          url,
          variants: tokens.map((token) => ({ headers: { authorization: `Bearer ${token}` } })),
        })),
        method: 'GET',
        path: '/me',
        connections: connectionsPerTarget(options, server.layout.processes, server.urls.length),
        seconds: options.seconds,
        warmup: options.warmup,
      }),
    );
    report.record(`userinfo/${level}/${server.layout.name}`, { platform: result, baseline: adapter });
    const perCore = Math.round(result.perSecond / server.layout.processes).toLocaleString('en-US');
    const share = result.perSecond / adapter.load.perSecond;
    report.add({
      scenario: `userinfo ${scope.replace('openid ', '')}`,
      setting: server.layout.name,
      result: `${describeLoad(result)}; ${perCore}/core; ${serverCpu(scenario.usage[`userinfo ${level}`], result.perSecond)}; ${fmt(share * 100)}% of ${adapter.name}`,
      baseline: describeRung(adapter),
      target: `≥ ${TARGETS.userinfoOfAdapter * 100}% of ${adapter.name}`,
      verdict: verdict(share, '>=', TARGETS.userinfoOfAdapter),
    });
  }
}

/** Userinfo of the bare provider storing through the adapter, with access tokens it minted (`sub` only). */
function measureAdapterUserinfo(scenario: ServerScenario): Promise<Rung> {
  const { options, server } = scenario;
  return measureRung(scenario, { ...adapterRung(scenario), accessTokens: TOKENS_PER_LEVEL }, (b) =>
    runHttpLoad({
      targets: b.urls.map((url) => ({
        url,
        variants: b.accessTokens.get(url)!.map((token) => ({ headers: { authorization: `Bearer ${token}` } })),
      })),
      method: 'GET',
      path: '/me',
      connections: connectionsPerTarget(options, server.layout.processes, b.urls.length),
      seconds: options.seconds,
      warmup: options.warmup,
    }),
  );
}
