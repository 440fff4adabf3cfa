import { createBenchDatabase, type BenchDatabase } from './lib/database.js';
import { describeMachine } from './lib/machine.js';
import { parseOptions, type BenchOptions, type Engine, type ScenarioName } from './lib/options.js';
import { Report } from './lib/report.js';
import { measureAudit } from './scenarios/audit.js';
import { measureClientCredentials } from './scenarios/client-credentials.js';
import type { ServerScenario } from './scenarios/context.js';
import { reportMemory } from './scenarios/memory.js';
import { measureNotary } from './scenarios/notary.js';
import { measureRefresh, refreshChainStarts } from './scenarios/refresh.js';
import { reportReuse, simulateReuse } from './scenarios/reuse.js';
import { measureSignIn } from './scenarios/sign-in.js';
import { measureUserinfo } from './scenarios/userinfo.js';
import { buildPlatform, layoutsFor, startPlatformServer, type Layout, type ServerOptions } from './server/platform.js';
import { reportProfiles } from './server/profiles.js';
import { prepareFixtures, type Fixtures } from './setup/fixtures.js';

// `npm run bench`: every scenario of bench/lib/targets.ts against the real server over loopback, per engine,
// each with its baseline from the same run. See docs/scaling.md.

/** Scenarios that load a running server, in the order they run on each layout. */
const SERVER_SCENARIOS: Array<[ScenarioName, (scenario: ServerScenario) => Promise<void>]> = [
  ['client_credentials', measureClientCredentials],
  ['refresh', measureRefresh],
  ['sign_in', measureSignIn],
  ['userinfo', measureUserinfo],
];

const options = parseOptions(process.argv.slice(2));
buildPlatform();
for (const engine of options.engines) await runEngine(engine, options);

async function runEngine(engine: Engine, options: BenchOptions): Promise<void> {
  console.log(`\n== ${engine}${options.quick ? ' (quick)' : ''} ==`);
  const report = new Report(engine, options, await describeMachine(engine));
  const serverOptions: ServerOptions = {
    profileDir: options.profile ? `bench/results/profiles/${engine}` : undefined,
    redisUrl: options.redisUrl,
  };
  report.note(
    `rate limits counted in ${options.redisUrl ? `Redis (${options.redisUrl})` : engine === 'pglite' ? 'memory' : 'the database'}`,
  );
  const database = await createBenchDatabase(engine, 'main');
  try {
    const layouts = await layoutsFor(engine);
    const wanted = SERVER_SCENARIOS.filter(([name]) => options.scenarios.has(name));
    // Each layout's refresh chains start from tokens of their own, plus one to probe for rotation.
    const mostProcesses = Math.max(...layouts.map((l) => l.processes));
    const perLayout = options.scenarios.has('refresh') ? 1 + refreshChainStarts(options.connections, mostProcesses) : 0;
    const needsFixtures = wanted.length > 0 || options.scenarios.has('notary');
    const fixtures = needsFixtures
      ? await step('setup', () =>
          prepareFixtures(database, { people: options.accounts, refreshTokens: perLayout * layouts.length }),
        )
      : undefined;
    for (const [i, layout] of (wanted.length ? layouts : []).entries()) {
      const pool = fixtures!.refreshTokens.slice(i * perLayout, (i + 1) * perLayout);
      await attempt(report, `server: ${layout.name}`, () =>
        measureLayout(report, wanted, { ...fixtures!, refreshTokens: pool }, database, layout, serverOptions),
      );
    }
    if (options.scenarios.has('audit'))
      await attempt(report, 'audit appends and proofs', () => measureAudit(database, options, report));
    if (options.scenarios.has('notary'))
      await attempt(report, 'notary queries', () =>
        measureNotary(database, fixtures!.notary, options, report, layouts[0]!, serverOptions),
      );
    if (options.scenarios.has('reuse'))
      await attempt(report, 'verification reuse', () =>
        withDatabase(engine, 'reuse', async (db) => reportReuse(report, await simulateReuse(db, options.reusePeople))),
      );
  } finally {
    await database.drop();
    report.print();
    console.log(`written to ${await report.write()}`);
  }
}

/** Starts the server in `layout`, runs the server scenarios against it, then reports its memory. */
async function measureLayout(
  report: Report,
  wanted: typeof SERVER_SCENARIOS,
  fixtures: Fixtures,
  database: BenchDatabase,
  layout: Layout,
  serverOptions: ServerOptions,
): Promise<void> {
  const server = await startPlatformServer(database, layout, serverOptions);
  const scenario: ServerScenario = {
    options: report.options,
    database,
    server,
    fixtures,
    report,
    usage: {},
    windows: {},
  };
  try {
    for (const [name, measure] of wanted) await attempt(report, `${name} (${layout.name})`, () => measure(scenario));
  } finally {
    await server.stop();
  }
  reportMemory(report, server, scenario.usage);
  if (serverOptions.profileDir) reportProfiles(report, server, serverOptions.profileDir, scenario.windows);
}

async function withDatabase<T>(
  engine: Engine,
  label: string,
  work: (database: BenchDatabase) => Promise<T>,
): Promise<T> {
  const database = await createBenchDatabase(engine, label);
  try {
    return await work(database);
  } finally {
    await database.drop();
  }
}

/** Runs one step of the run, printing how long it took. */
async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  console.log(`  ${name} …`);
  const result = await work();
  console.log(`  ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** A step whose failure is reported and does not stop the others. */
async function attempt(report: Report, name: string, work: () => Promise<void>): Promise<void> {
  try {
    await step(name, work);
  } catch (err) {
    report.warn(`${name} failed: ${(err as Error).stack ?? err}`);
  }
}
