import { mkdir, writeFile } from 'node:fs/promises';
import { loadConfig } from '../src/config/load.js';
import { requiredMethod } from '../src/identity/service.js';
import { createPlatform } from '../src/platform.js';

// Seed 000's scenario: people verify once and then use ten businesses each, at merchants of two
// security levels. Counts provider calls against the queries served by reused results, and the
// cost against verifying anew at every business. Usage: tsx bench/reuse.ts [people=1000]

const PEOPLE = Number(process.argv[2] ?? 1000);
const BUSINESSES = 10;
const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
// Birth dates 1950-01-01 + i days keep every number valid and distinct.
const numberOf = (i: number) => {
  const birth = new Date(Date.UTC(1950, 0, 1) + i * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
  const digits = `110101${birth}${String(i % 1000).padStart(3, '0')}`;
  return digits + '10X98765432'[W.reduce((s, w, k) => s + w * Number(digits[k]), 0) % 11];
};

const config = loadConfig({ env: { NODE_ENV: 'test' }, overrides: { dataDir: ':memory:', issuer: 'http://127.0.0.1:1', verification: { checkRatePerMinute: 100_000 } } });
const platform = await createPlatform(config);
const { accounts, verifications, clients } = platform;
const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

// Ten merchants: seven need a document check (level 1), three a person-document match (level 2).
const merchants = [];
for (let m = 0; m < BUSINESSES; m += 1) {
  merchants.push(await clients.add({ name: `Merchant ${m}`, redirectUris: [`https://m${m}.example/cb`], securityLevel: m < 7 ? 1 : 2 }));
}

const started = performance.now();
let withoutReuseFen = 0;
for (let i = 0; i < PEOPLE; i += 1) {
  const account = (await accounts.register({ login: `person${i}@bench.test`, password: 'correct horse battery' })).id;
  const person = { documentType: 'cn_resident_id', documentNumber: numberOf(i), name: `测试${i}` };
  for (const merchant of merchants) {
    const method = requiredMethod(merchant.security_level);
    withoutReuseFen += method === 'person_match' ? 150 : 50;
    // The merchant first asks whether a usable result exists (the check API); only if not does
    // the person verify, once, with the method that merchant needs.
    const answer = await verifications.check({ clientId: merchant.client_id, maxAgeDays: null, maxQueries: null }, person);
    const strongEnough = answer.verified && (method === 'document' || answer.method === 'person_match');
    if (!strongEnough) {
      await verifications.verify(account, { ...person, method, ...(method === 'person_match' ? { portrait: { contentType: 'image/png', data: png }, documentFront: { contentType: 'image/png', data: png } } : {}) });
    }
  }
}
const seconds = (performance.now() - started) / 1000;

const calls: Array<{ method: string; n: number; fen: number }> = await platform.db('provider_calls').select('method').count({ n: '*' }).sum({ fen: 'cost_fen' }).groupBy('method');
const queries = Number((await platform.db('verification_queries').count({ n: '*' }).first())!.n);
const providerCalls = calls.reduce((s, r) => s + Number(r.n), 0);
const costFen = calls.reduce((s, r) => s + Number(r.fen), 0);
const result = {
  people: PEOPLE,
  businesses_per_person: BUSINESSES,
  provider_calls: providerCalls,
  provider_calls_by_method: Object.fromEntries(calls.map((r) => [r.method, Number(r.n)])),
  queries_served_by_reuse: queries,
  cost_yuan: costFen / 100,
  cost_without_reuse_yuan: withoutReuseFen / 100,
  saved_percent: Math.round((1 - costFen / withoutReuseFen) * 1000) / 10,
  seconds: Math.round(seconds),
};
console.table([result]);
await mkdir('bench/results', { recursive: true });
await writeFile(`bench/results/reuse-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify(result, null, 2));
await platform.close();
