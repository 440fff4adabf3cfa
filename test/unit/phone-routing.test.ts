import { describe, expect, it } from '@jest/globals';
import { PhoneCheckRouter, carrierOf, type CarrierName } from '../../src/identity/providers/phone.js';
import {
  ProviderUnavailable,
  type PhoneCarrier,
  type PhoneCheckRequest,
  type ProviderAnswer,
} from '../../src/identity/providers/types.js';

const request = (phone: string): PhoneCheckRequest => ({
  phone,
  documentType: 'cn_resident_id',
  documentNumber: '11010519491231002X',
  name: '张三',
});

/** An in-process carrier that answers, or throws, what it is told, and records its calls. */
function fakeCarrier(name: string, behaviour: ProviderAnswer | Error = { result: 'match' }) {
  const calls: string[] = [];
  const carrier: PhoneCarrier & { calls: string[] } = {
    name,
    calls,
    async checkPhone(req) {
      calls.push(req.phone);
      if (behaviour instanceof Error) throw behaviour;
      return behaviour;
    },
  };
  return carrier;
}

const down = (name: string) => new ProviderUnavailable(name, 'circuit-open', 'down');

describe('carrierOf', () => {
  it.each<[string, CarrierName | undefined]>([
    ['+8613800138000', 'china-mobile'],
    ['+8613400000000', 'china-mobile'],
    ['+8614700000000', 'china-mobile'],
    ['+8617200000000', 'china-mobile'],
    ['+8619500000000', 'china-mobile'],
    ['+8619700000000', 'china-mobile'],
    ['+8619800000000', 'china-mobile'],
    ['+8613000000000', 'china-unicom'],
    ['+8614500000000', 'china-unicom'],
    ['+8616600000000', 'china-unicom'],
    ['+8617500000000', 'china-unicom'],
    ['+8619600000000', 'china-unicom'],
    ['+8613300000000', 'china-telecom'],
    ['+8613490000000', 'china-telecom'],
    ['+8617400500000', 'china-telecom'],
    ['+8617700000000', 'china-telecom'],
    ['+8619000000000', 'china-telecom'],
    ['+8619300000000', 'china-telecom'],
    ['+8619900000000', 'china-telecom'],
    ['+8619200000000', 'china-broadnet'],
  ])('puts %s at %s', (phone, carrier) => {
    expect(carrierOf(phone)).toBe(carrier);
  });

  it.each([
    ['an MVNO number (170)', '+8617000000000'],
    ['an MVNO number (171)', '+8617100000000'],
    ['an MVNO number (162)', '+8616200000000'],
    ['an MVNO number (165)', '+8616500000000'],
    ['an MVNO number (167)', '+8616700000000'],
    ['an emergency-communications number (17406)', '+8617406000000'],
    ['a maritime satellite number (1749)', '+8617490000000'],
    ['an unallocated segment (154)', '+8615400000000'],
    ['a Hong Kong number', '+85261234567'],
    ['a number without the country code', '13800138000'],
    ['a number one digit short', '+861380013800'],
    ['a number one digit long', '+86138001380000'],
  ])('names no carrier for %s', (_, phone) => {
    expect(carrierOf(phone)).toBeUndefined();
  });
});

describe('PhoneCheckRouter', () => {
  it("routes to the number's carrier only", async () => {
    const mobile = fakeCarrier('china-mobile');
    const unicom = fakeCarrier('china-unicom');
    const fallback = fakeCarrier('aggregator');
    const router = new PhoneCheckRouter({ carriers: { 'china-mobile': mobile, 'china-unicom': unicom }, fallback });
    await expect(router.checkPhone(request('+8613000000000'))).resolves.toEqual({ result: 'match' });
    expect([mobile.calls, unicom.calls, fallback.calls]).toEqual([[], ['+8613000000000'], []]);
  });

  it('takes a mismatch from the right carrier as final', async () => {
    const mobile = fakeCarrier('china-mobile', { result: 'mismatch', reason: 'name' });
    const fallback = fakeCarrier('aggregator');
    const router = new PhoneCheckRouter({ carriers: { 'china-mobile': mobile }, fallback });
    await expect(router.checkPhone(request('+8613800138000'))).resolves.toEqual({ result: 'mismatch', reason: 'name' });
    expect(fallback.calls).toEqual([]);
  });

  it('asks the fallback when the carrier is unavailable', async () => {
    const fallback = fakeCarrier('aggregator', { result: 'mismatch', reason: 'phone' });
    const router = new PhoneCheckRouter({
      carriers: { 'china-telecom': fakeCarrier('china-telecom', down('china-telecom')) },
      fallback,
    });
    await expect(router.checkPhone(request('+8618900000000'))).resolves.toEqual({
      result: 'mismatch',
      reason: 'phone',
    });
    expect(fallback.calls).toEqual(['+8618900000000']);
  });

  it("rethrows the carrier's unavailability when there is no fallback", async () => {
    const router = new PhoneCheckRouter({
      carriers: { 'china-telecom': fakeCarrier('china-telecom', down('china-telecom')) },
    });
    await expect(router.checkPhone(request('+8618900000000'))).rejects.toMatchObject({
      provider: 'china-telecom',
      reason: 'circuit-open',
    });
  });

  it('lets the unavailability of the fallback through, never as an answer', async () => {
    const router = new PhoneCheckRouter({
      carriers: { 'china-telecom': fakeCarrier('china-telecom', down('china-telecom')) },
      fallback: fakeCarrier('aggregator', new ProviderUnavailable('aggregator', 'timeout', 'slow')),
    });
    await expect(router.checkPhone(request('+8618900000000'))).rejects.toMatchObject({
      provider: 'aggregator',
      reason: 'timeout',
    });
  });

  it('does not hide a bug in a carrier adapter behind the fallback', async () => {
    const fallback = fakeCarrier('aggregator');
    const router = new PhoneCheckRouter({
      carriers: { 'china-mobile': fakeCarrier('china-mobile', new TypeError('bug')) },
      fallback,
    });
    await expect(router.checkPhone(request('+8613800138000'))).rejects.toThrow(TypeError);
    expect(fallback.calls).toEqual([]);
  });

  it('does not fall back once the caller has given up', async () => {
    const fallback = fakeCarrier('aggregator');
    const router = new PhoneCheckRouter({
      carriers: { 'china-mobile': fakeCarrier('china-mobile', down('china-mobile')) },
      fallback,
    });
    await expect(router.checkPhone(request('+8613800138000'), AbortSignal.abort())).rejects.toBeInstanceOf(
      ProviderUnavailable,
    );
    expect(fallback.calls).toEqual([]);
  });

  it.each([
    ['a carrier without an adapter', '+8619200000000'],
    ['an MVNO number', '+8617000000000'],
    ['a non-mainland number', '+85261234567'],
  ])('sends %s to the fallback', async (_, phone) => {
    const fallback = fakeCarrier('aggregator');
    const router = new PhoneCheckRouter({ carriers: { 'china-mobile': fakeCarrier('china-mobile') }, fallback });
    await expect(router.checkPhone(request(phone))).resolves.toEqual({ result: 'match' });
    expect(fallback.calls).toEqual([phone]);
  });

  it.each([
    ['a carrier without an adapter', '+8619200000000'],
    ['an MVNO number', '+8617000000000'],
    ['a non-mainland number', '+85261234567'],
  ])('refuses %s as unavailable when there is no fallback', async (_, phone) => {
    const router = new PhoneCheckRouter({ carriers: { 'china-mobile': fakeCarrier('china-mobile') } });
    await expect(router.checkPhone(request(phone))).rejects.toMatchObject({
      name: 'ProviderUnavailable',
      provider: 'phone-router',
      reason: 'error',
    });
  });
});
