import { BARE_CLIENT, withBareProviders } from '../baseline/bare-provider.js';
import { cpuMsPerRequest, whileSampling } from '../lib/proc.js';
import { fmt, verdict } from '../lib/report.js';
import { TARGETS } from '../lib/targets.js';
import { describeLoad, sampled, serverCpu, tokenLoad, type ServerScenario } from './context.js';

// Scenario 1: client_credentials grants (a merchant asking for realname:check, as before each
// check API call), against the bare oidc-provider with the same request.

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
  const { result: bare, usage: bareUsage } = await withBareProviders(processes, (b) =>
    whileSampling(b.pids, () =>
      tokenLoad(
        options,
        { clientId: BARE_CLIENT.client_id, clientSecret: BARE_CLIENT.client_secret },
        b.urls.map((url) => ({ url })),
        processes,
        { body: BODY },
      ),
    ),
  );
  const perCore = platform.perSecond / processes;
  const share = platform.perSecond / bare.perSecond;
  report.record(`client_credentials/${server.layout.name}`, {
    platform,
    bare,
    bare_usage: bareUsage,
    per_core: Math.round(perCore),
    share_of_bare: share,
  });
  report.add({
    scenario: 'client_credentials',
    setting: server.layout.name,
    result: `${describeLoad(platform)}; ${fmt(perCore)}/core; ${serverCpu(scenario.usage.client_credentials, platform.perSecond)}`,
    baseline: `bare ${describeLoad(bare)}; CPU ${fmt(cpuMsPerRequest(bareUsage, bare.perSecond))} ms/req`,
    target: `≥ ${fmt(TARGETS.clientCredentialsPerCore)}/core`,
    verdict: verdict(perCore, '>=', TARGETS.clientCredentialsPerCore),
  });
  report.add({
    scenario: 'client_credentials',
    setting: server.layout.name,
    result: `${fmt(share * 100)}% of bare`,
    target: `≥ ${TARGETS.clientCredentialsOfBare * 100}% of bare`,
    verdict: verdict(share, '>=', TARGETS.clientCredentialsOfBare),
  });
}
