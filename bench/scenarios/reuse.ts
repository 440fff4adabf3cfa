import { requiredMethod } from '../../src/identity/service.js';
import { PNG } from '../../test/helpers/images.js';
import type { BenchDatabase } from '../lib/database.js';
import { personNumber } from '../lib/people.js';
import type { Report } from '../lib/report.js';
import { withPlatform } from '../setup/fixtures.js';

// Scenario 6 (docs/background.md#result-reuse): people verify once and then use ten businesses each, over a simulated
// month, at merchants of two security levels. Counts provider calls against the queries served
// by reused results, and the cost against verifying anew at every business.

const BUSINESSES = 10;
/** Seven merchants need a document check (security level 1), three a person-document match (level 2). */
const DOCUMENT_LEVEL_MERCHANTS = 7;

export interface ReuseResult {
  people: number;
  businesses_per_person: number;
  provider_calls: number;
  provider_calls_by_method: Record<string, number>;
  queries_served_by_reuse: number;
  provider_calls_per_person: number;
  cost_yuan: number;
  cost_without_reuse_yuan: number;
  saved_percent: number;
  seconds: number;
}

/** Runs the month on a fresh database (its counts are the whole tables'). */
export async function simulateReuse(database: BenchDatabase, people: number): Promise<ReuseResult> {
  // The check API's per-merchant rate limit would otherwise refuse most of a month compressed into seconds.
  return withPlatform(
    database,
    async ({ accounts, verifications, clients, db }) => {
      const merchants = [];
      for (let m = 0; m < BUSINESSES; m += 1) {
        merchants.push(
          await clients.add({
            name: `Merchant ${m}`,
            redirectUris: [`https://m${m}.example/cb`],
            securityLevel: m < DOCUMENT_LEVEL_MERCHANTS ? 1 : 2,
          }),
        );
      }
      const started = performance.now();
      let withoutReuseFen = 0;
      for (let i = 0; i < people; i += 1) {
        const account = (await accounts.register({ login: `person${i}@bench.test`, password: 'correct horse battery' }))
          .id;
        const person = personNumber(i);
        for (const merchant of merchants) {
          const method = requiredMethod(merchant.security_level);
          withoutReuseFen += method === 'person_match' ? 150 : 50;
          // The merchant first asks whether a usable result exists (the check API); only if not does
          // the person verify, once, with the method that merchant needs.
          const answer = await verifications.check(
            { clientId: merchant.client_id, maxAgeDays: null, maxQueries: null },
            person,
          );
          const strongEnough = answer.verified && (method === 'document' || answer.method === 'person_match');
          if (!strongEnough) {
            const png = { contentType: 'image/png' as const, data: PNG };
            const photos = method === 'person_match' ? { portrait: png, documentFront: png } : {};
            await verifications.verify(account, { ...person, method, ...photos });
          }
        }
      }
      const seconds = (performance.now() - started) / 1000;
      const calls: Array<{ method: string; n: number; fen: number }> = await db('provider_calls')
        .select('method')
        .count({ n: '*' })
        .sum({ fen: 'cost_fen' })
        .groupBy('method');
      const queries = Number((await db('verification_queries').count({ n: '*' }).first())!.n);
      const providerCalls = calls.reduce((s, r) => s + Number(r.n), 0);
      const costFen = calls.reduce((s, r) => s + Number(r.fen), 0);
      return {
        people,
        businesses_per_person: BUSINESSES,
        provider_calls: providerCalls,
        provider_calls_by_method: Object.fromEntries(calls.map((r) => [r.method, Number(r.n)])),
        queries_served_by_reuse: queries,
        provider_calls_per_person: providerCalls / people,
        cost_yuan: costFen / 100,
        cost_without_reuse_yuan: withoutReuseFen / 100,
        saved_percent: Math.round((1 - costFen / withoutReuseFen) * 1000) / 10,
        seconds: Math.round(seconds),
      };
    },
    { verification: { checkRatePerMinute: 100_000 } },
  );
}

export function reportReuse(report: Report, result: ReuseResult): void {
  report.record('reuse', result);
  report.add({
    scenario: 'verification reuse',
    setting: `${result.people} people × ${result.businesses_per_person} businesses`,
    result: `${result.provider_calls_per_person} provider calls/person (${result.provider_calls} calls, ${result.queries_served_by_reuse} queries reused); ${result.cost_yuan} yuan`,
    baseline: `${result.businesses_per_person} calls/person, ${result.cost_without_reuse_yuan} yuan without reuse (−${result.saved_percent}%)`,
  });
}
