import argon2 from 'argon2';
import { serveChild } from '../lib/processes.js';
import { loopFor, summarize } from '../lib/stats.js';
import type { Argon2CeilingSpec, RateResult } from './sign-in-load.js';

// The sign-in flow's ceiling: argon2id verifications alone, with the configured parameters, at
// the driver's concurrency, on node's default libuv pool (where the server's verifications run too).

serveChild<Argon2CeilingSpec, RateResult>(async (spec) => {
  const password = 'correct horse battery staple';
  const hash = await argon2.hash(password, { type: argon2.argon2id, ...spec.params });
  const verify = async () => {
    if (!(await argon2.verify(hash, password))) throw new Error('argon2 verification failed');
  };
  await loopFor(spec.warmup, spec.concurrency, verify);
  const cpu = process.cpuUsage();
  const { latencies, elapsed } = await loopFor(spec.seconds, spec.concurrency, verify);
  const { user, system } = process.cpuUsage(cpu);
  return {
    perSecond: Math.round((latencies.length / elapsed) * 10) / 10,
    errors: 0,
    ownCpuMsPerOperation: Math.round(((user + system) / 1000 / latencies.length) * 10) / 10,
    ...summarize(latencies),
  };
});
