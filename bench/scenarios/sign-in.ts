import { runArgon2Ceiling, runSignInLoad, type RateResult } from '../flows/sign-in-load.js';
import { cpuMsPerRequest, type Usage } from '../lib/proc.js';
import { fmt, verdict } from '../lib/report.js';
import { TARGETS } from '../lib/targets.js';
import { PASSWORD, platformConfig } from '../setup/fixtures.js';
import { adapterRung, BARE_LOAD_CLIENT, measureRung, sampled, serverCpu, type ServerScenario } from './context.js';

// Scenario 3: whole authorization code flows with a password sign-in (argon2id at the configured
// parameters) from concurrent browsers in a driver process. Baselines: the same number of raw
// argon2 verifications at a time, which is what each flow must spend at least once; and the same
// flows through the bare provider with the one-table adapter and the smallest interaction pages
// (bench/baseline/bare-provider-process.ts), what the protocol and persistence alone cost.

export async function measureSignIn(scenario: ServerScenario): Promise<void> {
  const { options, server, fixtures, report } = scenario;
  const params = platformConfig().argon2;
  const flows = await sampled(scenario, 'sign_in', () =>
    runSignInLoad({
      issuer: server.issuer,
      bases: server.urls,
      merchant: fixtures.merchant,
      people: fixtures.people,
      browsers: options.browsers,
      seconds: options.seconds,
      warmup: options.warmup,
    }),
  );
  const ceiling = await runArgon2Ceiling({
    params,
    concurrency: options.browsers,
    seconds: options.seconds,
    warmup: options.warmup,
  });
  const bare = await measureRung(
    scenario,
    { ...adapterRung(scenario), signIn: { password: PASSWORD, argon2: params } },
    (providers) =>
      runSignInLoad({
        issuer: providers.urls[0]!,
        issuers: providers.urls,
        bases: providers.urls,
        merchant: BARE_LOAD_CLIENT,
        basicAuth: true,
        scope: 'openid',
        people: fixtures.people,
        browsers: options.browsers,
        seconds: options.seconds,
        warmup: options.warmup,
      }),
  );
  const share = flows.perSecond / ceiling.perSecond;
  const flowCpuMs = cpuPerFlow(scenario.usage.sign_in, flows);
  const beyondArgon2Ms = flowCpuMs - ceiling.ownCpuMsPerOperation;
  const bareCpuMs = cpuPerFlow(bare.usage, bare.load);
  const bareBeyondMs = bareCpuMs - ceiling.ownCpuMsPerOperation;
  report.record(`sign_in/${server.layout.name}`, {
    flows,
    argon2: ceiling,
    argon2_params: params,
    share_of_argon2: share,
    cpu_ms_per_flow: flowCpuMs,
    cpu_ms_beyond_argon2: beyondArgon2Ms,
    bare_adapter: {
      flows: bare.load,
      usage: bare.usage,
      cpu_ms_per_flow: bareCpuMs,
      cpu_ms_beyond_argon2: bareBeyondMs,
    },
  });
  if (bare.load.errors)
    report.warn(
      `bare sign-in (${server.layout.name}): ${bare.load.errors} flows failed, e.g. ${bare.load.errorSamples?.[0]}`,
    );
  if (flows.errors)
    report.warn(`sign-in (${server.layout.name}): ${flows.errors} flows failed, e.g. ${flows.errorSamples?.[0]}`);
  report.add({
    scenario: 'sign-in flow',
    setting: `${server.layout.name}, ${options.browsers} browsers`,
    result: `${fmt(flows.perSecond)} flows/s (p50 ${fmt(flows.p50_ms)} ms, p99 ${fmt(flows.p99_ms)} ms)${flows.errors ? `, ${flows.errors} failed` : ''}; ${fmt(share * 100)}%; ${serverCpu(scenario.usage.sign_in, flows.perSecond, 'flow')}; driver ${fmt(flows.ownCpuMsPerOperation)} ms/flow`,
    baseline: `argon2.verify ${fmt(ceiling.perSecond)}/s, CPU ${fmt(ceiling.ownCpuMsPerOperation)} ms each (m=${params.memoryCost} t=${params.timeCost} p=${params.parallelism})`,
    target: `≥ ${TARGETS.signInOfArgon2 * 100}% of argon2`,
    verdict: verdict(share, '>=', TARGETS.signInOfArgon2),
  });
  report.add({
    scenario: 'sign-in flow',
    setting: `${server.layout.name}, ${options.browsers} browsers`,
    result: `CPU ${fmt(beyondArgon2Ms)} ms/flow beyond argon2 (${fmt(flowCpuMs)} in all, server and PostgreSQL)`,
    baseline: `bare + adapter ${fmt(bare.load.perSecond)} flows/s (${fmt((bare.load.perSecond / ceiling.perSecond) * 100)}% of argon2); CPU ${fmt(bareBeyondMs)} ms/flow beyond argon2 (${fmt(bareCpuMs)} in all)`,
    target: `≤ ${TARGETS.signInCpuBeyondArgon2Ms} ms`,
    verdict: verdict(beyondArgon2Ms, '<', TARGETS.signInCpuBeyondArgon2Ms + 1e-9),
  });
}

/** CPU per flow (ms) of the server and its database under a load of `flows`. */
function cpuPerFlow(usage: Usage | undefined, flows: RateResult): number {
  if (!usage) return NaN;
  return cpuMsPerRequest(usage, flows.perSecond) + cpuMsPerRequest(usage, flows.perSecond, usage.dbCpuSeconds ?? 0);
}
