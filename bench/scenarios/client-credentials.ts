import type { BareProviders } from '../baseline/bare-provider.js';
import { fmt, verdict } from '../lib/report.js';
import { TARGETS } from '../lib/targets.js';
import {
  adapterRung,
  BARE_LOAD_CLIENT,
  describeLoad,
  describeRung,
  measureRung,
  sampled,
  serverCpu,
  tokenLoad,
  type ServerScenario,
} from './context.js';

// Scenario 1: client_credentials grants (a merchant asking for realname:check, as before each
// check API call), against the bare oidc-provider with the same request: in memory, storing
// through the one-table adapter, and issuing EdDSA JWTs (which store nothing).

const BODY = 'grant_type=client_credentials&scope=realname%3Acheck';

export async function measureClientCredentials(scenario: ServerScenario): Promise<void> {
  const { options, server, fixtures, report } = scenario;
  const { processes } = server.layout;
  const platform = await sampled(scenario, 'client_credentials', () =>
    tokenLoad(
      options,
      fixtures.merchant,
      server.urls.map((url) => ({ url })),
      processes,
      { body: BODY },
    ),
  );
  const bareLoad = (b: BareProviders) =>
    tokenLoad(
      options,
      BARE_LOAD_CLIENT,
      b.urls.map((url) => ({ url })),
      processes,
      { body: BODY },
    );
  const rungs = [
    await measureRung(scenario, {}, bareLoad),
    await measureRung(scenario, adapterRung(scenario), bareLoad),
    await measureRung(scenario, { jwtClientCredentials: true }, bareLoad),
  ];
  const adapter = rungs[1]!;
  const perCore = platform.perSecond / processes;
  const share = platform.perSecond / adapter.load.perSecond;
  report.record(`client_credentials/${server.layout.name}`, {
    platform,
    baselines: rungs,
    per_core: Math.round(perCore),
    share_of_adapter: share,
  });
  report.add({
    scenario: 'client_credentials',
    setting: server.layout.name,
    result: `${describeLoad(platform)}; ${fmt(perCore)}/core; ${serverCpu(scenario.usage.client_credentials, platform.perSecond)}`,
    baseline: rungs.map(describeRung).join('; '),
    target: `≥ ${fmt(TARGETS.clientCredentialsPerCore)}/core`,
    verdict: verdict(perCore, '>=', TARGETS.clientCredentialsPerCore),
  });
  report.add({
    scenario: 'client_credentials',
    setting: server.layout.name,
    result: `${fmt(share * 100)}% of ${adapter.name}`,
    target: `≥ ${TARGETS.clientCredentialsOfAdapter * 100}% of ${adapter.name}`,
    verdict: verdict(share, '>=', TARGETS.clientCredentialsOfAdapter),
  });
}
