/**
 * Three-element phone check routing: a mainland number is checked by the carrier that issued its
 * number segment, and by an aggregator (the fallback) when that carrier has no adapter here, is
 * down, or the segment does not name one carrier.
 */
import type { PhoneCarrier, PhoneCheckRequest, ProviderAnswer } from './types.js';
import { ProviderUnavailable } from './types.js';

export type CarrierName = 'china-mobile' | 'china-unicom' | 'china-telecom' | 'china-broadnet';

/**
 * Number segments (号段) of the four basic operators, as allocated by MIIT (工信部) for 11-digit
 * mobile numbers. Source: the tables "手机卡 - 基础运营商" and "上网卡" of
 * github.com/VincentSit/ChinaMobilePhoneNumberRegex (README-CN.md at 007f228), kept up to date
 * with MIIT's allocations (190/193/195/196/197 for 5G, 192 for China Broadnet) and citing
 * zh.wikipedia 「中国内地移动终端通讯号码」. Data-card segments 145/147/149 are included: they
 * are real-name subscriptions at the same carrier. Left out on purpose, so they go to the fallback:
 * - MVNO segments 162, 165, 167, 170x, 171: the host network is known (1703/1705/1706 and 165
 *   are China Mobile's, …), but the subscriber's real-name record is the reseller's (虚商), not
 *   the host carrier's, so the host cannot answer the three-element check;
 * - 1740[6-9]/1741[0-2] (MIIT emergency communications), 1749 (Inmarsat), 13-digit IoT numbers.
 * Since 2019-12-01 a number can be ported (携号转网), so the segment names the issuing carrier,
 * not always the current one: carrier adapters must report "not our subscriber" as
 * ProviderUnavailable (so the fallback answers), never as a mismatch.
 * Longest prefix wins: 1349 is China Telecom's (ex-satellite) inside China Mobile's 134.
 */
const SEGMENTS: Record<CarrierName, readonly string[]> = {
  'china-mobile': [
    '1340',
    '1341',
    '1342',
    '1343',
    '1344',
    '1345',
    '1346',
    '1347',
    '1348',
    '135',
    '136',
    '137',
    '138',
    '139',
    '147',
    '150',
    '151',
    '152',
    '157',
    '158',
    '159',
    '172',
    '178',
    '182',
    '183',
    '184',
    '187',
    '188',
    '195',
    '197',
    '198',
  ],
  'china-unicom': ['130', '131', '132', '145', '155', '156', '166', '175', '176', '185', '186', '196'],
  'china-telecom': [
    '133',
    '1349',
    '149',
    '153',
    '173',
    '17400',
    '17401',
    '17402',
    '17403',
    '17404',
    '17405',
    '177',
    '180',
    '181',
    '189',
    '190',
    '191',
    '193',
    '199',
  ],
  'china-broadnet': ['192'],
};

const CARRIER_BY_PREFIX = new Map(
  Object.entries(SEGMENTS).flatMap(([carrier, prefixes]) => prefixes.map((p) => [p, carrier as CarrierName] as const)),
);

/** The carrier that issued a mainland mobile number in E.164 (`+86` and 11 digits), if one did. */
export function carrierOf(phone: string): CarrierName | undefined {
  if (!/^\+861\d{10}$/.test(phone)) return undefined;
  const national = phone.slice(3);
  for (const length of [5, 4, 3]) {
    const carrier = CARRIER_BY_PREFIX.get(national.slice(0, length));
    if (carrier) return carrier;
  }
  return undefined;
}

export interface PhoneCheckRouterOptions {
  /** Adapters of the carriers this deployment has contracts with. */
  carriers: Partial<Record<CarrierName, PhoneCarrier>>;
  /** An aggregator covering every mainland number; used when the carrier cannot answer. */
  fallback?: PhoneCarrier;
}

export class PhoneCheckRouter implements PhoneCarrier {
  readonly name = 'phone-router';
  readonly #carriers: Partial<Record<CarrierName, PhoneCarrier>>;
  readonly #fallback: PhoneCarrier | undefined;

  constructor(options: PhoneCheckRouterOptions) {
    this.#carriers = { ...options.carriers };
    this.#fallback = options.fallback;
  }

  async checkPhone(request: PhoneCheckRequest, signal?: AbortSignal): Promise<ProviderAnswer> {
    const carrier = carrierOf(request.phone);
    const adapter = carrier && this.#carriers[carrier];
    if (adapter) {
      try {
        // The issuing carrier's answer, a mismatch included, is final.
        return await adapter.checkPhone(request, signal);
      } catch (error) {
        // Only "could not answer" falls back; a bug, or a caller that gave up, surfaces as is.
        if (!(error instanceof ProviderUnavailable) || !this.#fallback || signal?.aborted) throw error;
      }
    }
    if (this.#fallback) return this.#fallback.checkPhone(request, signal);
    const why = carrier ? `no adapter for ${carrier}` : 'not a number of a mainland basic carrier';
    throw new ProviderUnavailable(this.name, 'error', `phone check: ${why}`);
  }
}
