import { serveChild } from '../lib/processes.js';
import { loopFor, summarize } from '../lib/stats.js';
import { merchantConfiguration, signInFlow } from './sign-in.js';
import type { RateResult, SignInLoadSpec } from './sign-in-load.js';

// The sign-in driver's process: `browsers` concurrent loops of whole level-1 flows, each with a
// new cookie jar (a new session, so every flow signs in and consents).

serveChild<SignInLoadSpec, RateResult>(async (spec) => {
  const issuers = spec.issuers ?? spec.bases.map(() => spec.issuer);
  const configs = await Promise.all(
    issuers.map((issuer) => merchantConfiguration(issuer, spec.merchant, spec.basicAuth)),
  );
  const errorSamples: string[] = [];
  let errors = 0;
  const flow = async (i: number) => {
    try {
      await signInFlow(configs[i % spec.bases.length]!, {
        base: spec.bases[i % spec.bases.length]!,
        person: spec.people[i % spec.people.length]!,
        scope: spec.scope ?? 'openid realname',
        level: 'result',
      });
    } catch (err) {
      errors += 1;
      if (errorSamples.length < 3) errorSamples.push(String((err as Error).message).slice(0, 300));
    }
  };
  await loopFor(spec.warmup, spec.browsers, flow);
  errors = 0;
  const cpu = process.cpuUsage();
  const { latencies, elapsed } = await loopFor(spec.seconds, spec.browsers, flow);
  const ok = latencies.length - errors;
  const { user, system } = process.cpuUsage(cpu);
  return {
    perSecond: Math.round((ok / elapsed) * 10) / 10,
    errors,
    ownCpuMsPerOperation: Math.round(((user + system) / 1000 / latencies.length) * 10) / 10,
    ...summarize(latencies),
    ...(errorSamples.length ? { errorSamples } : {}),
  };
});
