import { BLIND_INDEX_KEY, personIndex } from '../../src/identity/blind-index.js';
import type { KeyService } from '../../src/keys/service.js';
import { residentIdNumber } from '../lib/people.js';
import type { Population } from './events.js';

// Who the events of a large log are about, so that the notary's queries find a realistic number:
// at 10^6 events, 20,000 people (50 events each) and 500 merchants (2,000 each).

const EVENTS_PER_PERSON = 50;
const EVENTS_PER_MERCHANT = 2000;

const clamp = (value: number, min: number, max: number) => Math.max(min, Math.min(max, Math.round(value)));

export interface LogPopulation extends Population {
  /** Resident ID numbers of `persons`, in the same order (what a notary asks with). */
  numbers: string[];
}

/** The population of a log of `leaves` events; people are blind-indexed with the platform's key. */
export async function logPopulation(keys: KeyService, leaves: number): Promise<LogPopulation> {
  const [key] = await keys.secrets(BLIND_INDEX_KEY.purpose);
  const numbers = Array.from({ length: clamp(leaves / EVENTS_PER_PERSON, 100, 20_000) }, (_, k) => residentIdNumber(k));
  return {
    numbers,
    persons: numbers.map((number) => personIndex(key!, 'cn_resident_id', number)),
    merchants: clamp(leaves / EVENTS_PER_MERCHANT, 5, 500),
    accounts: 50_000,
  };
}
