import { parseArgs } from 'node:util';

// The suite's flags. The defaults are the real run (a quiet machine, ~30 minutes for both
// engines); `--quick` shrinks every duration and data size for a smoke run while developing.

export type Engine = 'pglite' | 'postgres';

export const SCENARIOS = ['client_credentials', 'refresh', 'sign_in', 'userinfo', 'audit', 'notary', 'reuse'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  engines: Engine[];
  quick: boolean;
  scenarios: Set<ScenarioName>;
  /** Seconds of measured load per HTTP scenario, after `warmup` seconds of unmeasured load. */
  seconds: number;
  warmup: number;
  /** Concurrent connections per server process (autocannon). */
  connections: number;
  /** Concurrent browsers of the sign-in driver (and argon2 verifications of its baseline). */
  browsers: number;
  /** Accounts the sign-in driver and the token pools use. */
  accounts: number;
  /** Audit appends: concurrent writers and seconds. */
  writers: number;
  appendSeconds: number;
  /** Log sizes at which proofs are timed; the largest is also the notary queries' log. */
  leaves: number[];
  /** Proofs timed at each size. */
  proofSamples: number;
  /** People in the reuse scenario (docs/scaling.md, scenario 6). */
  reusePeople: number;
  /** Write V8 CPU profiles of the server processes to bench/results/profiles/. */
  profile: boolean;
  /** The servers count rate limits in this Redis (REDIS_URL); else in memory (PGlite) or the database (PostgreSQL). */
  redisUrl?: string;
}

const USAGE = `Usage: npm run bench -- [--engine pglite|postgres|both] [--quick] [--only a,b]
       [--seconds N] [--connections N] [--max-leaves N] [--profile] [--redis URL]
Scenarios (--only): ${SCENARIOS.join(', ')}`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      engine: { type: 'string', default: 'both' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      seconds: { type: 'string' },
      connections: { type: 'string' },
      'max-leaves': { type: 'string' },
      profile: { type: 'boolean', default: false },
      redis: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const engines: Engine[] = values.engine === 'both' ? ['pglite', 'postgres'] : [values.engine as Engine];
  if (!engines.every((e) => e === 'pglite' || e === 'postgres'))
    fail(`--engine: expected pglite, postgres or both, got ${values.engine}`);
  const scenarios = new Set((values.only?.split(',') ?? SCENARIOS).map((s) => s.trim()) as ScenarioName[]);
  for (const s of scenarios) if (!SCENARIOS.includes(s)) fail(`--only: unknown scenario ${s}`);

  const quick = values.quick;
  const maxLeaves = number(values['max-leaves'], quick ? 10_000 : 1_000_000, '--max-leaves');
  return {
    engines,
    quick,
    scenarios,
    seconds: number(values.seconds, quick ? 3 : 10, '--seconds'),
    warmup: quick ? 2 : 3,
    connections: number(values.connections, 10, '--connections'),
    browsers: 32,
    accounts: quick ? 8 : 32,
    writers: 8,
    appendSeconds: quick ? 2 : 10,
    leaves: [10_000, 100_000, 1_000_000].filter((n) => n <= maxLeaves),
    proofSamples: quick ? 100 : 500,
    reusePeople: quick ? 30 : 1000,
    profile: values.profile,
    ...(values.redis ? { redisUrl: values.redis } : {}),
  };
}

function number(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) fail(`${flag}: expected a positive whole number, got ${value}`);
  return n;
}

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}
