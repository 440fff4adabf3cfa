import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { HttpPhoneCarrier, HttpProvider, type HttpProviderOptions } from '../../src/identity/providers/http.js';
import { ProviderUnavailable } from '../../src/identity/providers/types.js';
import { stopWallClock } from '../helpers/clock.js';
import { startProviderStub, type ProviderStub } from '../helpers/provider-stub.js';

const person = { documentType: 'cn_resident_id' as const, documentNumber: '11010519491231002X', name: '张三' };
const mismatching = { ...person, name: '测试不符' };
const png = { contentType: 'image/png' as const, data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) };

let stub: ProviderStub;

beforeAll(async () => {
  stub = await startProviderStub();
});
afterAll(() => stub.close());
beforeEach(() => stub.reset());
afterEach(() => {
  jest.useRealTimers(); // after a test that stopped the wall clock, failed or not
  expect(stub.unexpected).toEqual([]);
});

// Short backoffs keep each test well under a second. The default timeout is generous because the
// first fetch in a Jest worker can take over 100 ms (undici loading); tests of timeouts set their
// own. The breaker stays out of the way unless a test sets it.
function provider(options: Partial<HttpProviderOptions> = {}) {
  return new HttpProvider({
    name: 'stub',
    baseUrl: stub.url,
    apiKey: 'test-key',
    timeoutMs: 2_000,
    retries: 2,
    backoff: { initialMs: 1, maxMs: 5 },
    breaker: { consecutiveFailures: 100, halfOpenAfterMs: 100 },
    ...options,
  });
}

async function unavailable(call: Promise<unknown>): Promise<ProviderUnavailable> {
  const error = await call.then(
    (answer) => {
      throw new Error(`expected ProviderUnavailable, got ${JSON.stringify(answer)}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderUnavailable);
  return error as ProviderUnavailable;
}

describe('HttpProvider answers', () => {
  it('passes a match through with the service reference', async () => {
    await expect(provider().checkDocument(person)).resolves.toEqual({ result: 'match', reference: 'stub-1' });
    expect(stub.last).toMatchObject({
      path: '/v1/document-check',
      body: { document_type: 'cn_resident_id', document_number: '11010519491231002X', name: '张三' },
    });
  });

  it('passes a mismatch through with its reason', async () => {
    await expect(provider().checkDocument(mismatching)).resolves.toEqual({
      result: 'mismatch',
      reason: 'name-mismatch',
      reference: 'stub-1',
    });
  });

  it('sends both images of a person match in base64 with their types', async () => {
    await provider().matchPerson({ ...person, portrait: png, documentFront: { ...png, contentType: 'image/jpeg' } });
    expect(stub.last?.path).toBe('/v1/person-match');
    expect(stub.last?.body).toMatchObject({
      portrait: { content_type: 'image/png', data: png.data.toString('base64') },
      document_front: { content_type: 'image/jpeg', data: png.data.toString('base64') },
    });
  });

  it('sends the phone with the document to the phone check', async () => {
    const carrier = new HttpPhoneCarrier({ name: 'china-mobile', baseUrl: stub.url, apiKey: 'k' });
    await expect(carrier.checkPhone({ ...mismatching, phone: '+8613800138000' })).resolves.toMatchObject({
      result: 'mismatch',
    });
    expect(stub.last).toMatchObject({ path: '/v1/phone-check', body: { phone: '+8613800138000', name: '测试不符' } });
  });

  it('sends the API key as a bearer token and one idempotency key across the retries of a call', async () => {
    stub.setMode({ kind: 'flaky', failures: 2 });
    const http = provider();
    await http.checkDocument(person);
    await http.checkDocument(person);
    const keys = stub.requests.map((request) => request.headers['idempotency-key']);
    expect(stub.requests.map((request) => request.headers.authorization)).toEqual(Array(4).fill('Bearer test-key'));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(keys.slice(0, 3)).size).toBe(1);
    expect(keys[3]).not.toBe(keys[0]);
  });

  it('refuses a 200 that is not JSON as a bad response, without retrying', async () => {
    stub.setMode({ kind: 'garbage' });
    expect(await unavailable(provider().checkDocument(person))).toMatchObject({
      provider: 'stub',
      reason: 'bad-response',
    });
    expect(stub.calls).toBe(1);
  });

  it('refuses JSON of the wrong shape as a bad response, never as an answer', async () => {
    stub.answer = () => ({ result: 'maybe' });
    expect(await unavailable(provider().checkDocument(person))).toMatchObject({ reason: 'bad-response' });
    stub.answer = () => ({ match: true });
    expect(await unavailable(provider().checkDocument(person))).toMatchObject({ reason: 'bad-response' });
  });

  it('treats a 400 as our error: no retry, and not a mismatch', async () => {
    stub.setMode({ kind: '400' });
    expect(await unavailable(provider().checkDocument(mismatching))).toMatchObject({ reason: 'error' });
    expect(stub.calls).toBe(1);
  });
});

describe('HttpProvider retries', () => {
  it('times out a slow attempt and retries it the configured number of times', async () => {
    stub.setMode({ kind: 'slow', delayMs: 1_000 });
    const started = Date.now();
    expect(await unavailable(provider({ timeoutMs: 50, retries: 2 }).checkDocument(person))).toMatchObject({
      reason: 'timeout',
    });
    expect(stub.calls).toBe(3);
    expect(Date.now() - started).toBeLessThan(800);
  });

  it('recovers from a flaky service within the retries', async () => {
    stub.setMode({ kind: 'flaky', failures: 2 });
    await expect(provider({ retries: 2 }).checkDocument(person)).resolves.toMatchObject({ result: 'match' });
    expect(stub.calls).toBe(3);
  });

  it('gives up after the retries with the last cause', async () => {
    stub.setMode({ kind: 'down' });
    expect(await unavailable(provider({ retries: 1 }).checkDocument(person))).toMatchObject({ reason: 'error' });
    expect(stub.calls).toBe(2);
  });

  it('stops waiting when the caller aborts', async () => {
    stub.setMode({ kind: 'hang' });
    const started = Date.now();
    const call = provider({ timeoutMs: 5_000 }).checkDocument(person, AbortSignal.timeout(50));
    expect(await unavailable(call)).toMatchObject({ reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(stub.calls).toBe(1);
  });

  it('reports an address where nothing listens as unreachable', async () => {
    const gone = await startProviderStub();
    await gone.stop();
    const http = new HttpProvider({
      name: 'gone',
      baseUrl: gone.url,
      apiKey: 'k',
      retries: 1,
      backoff: { initialMs: 1, maxMs: 5 },
    });
    expect(await unavailable(http.checkDocument(person))).toMatchObject({ provider: 'gone', reason: 'unreachable' });
  });
});

describe('HttpProvider circuit breaker', () => {
  it('opens after consecutive failed attempts and then fails fast without calling the service', async () => {
    stub.setMode({ kind: 'down' });
    const http = provider({ retries: 2, breaker: { consecutiveFailures: 5, halfOpenAfterMs: 10_000 } });
    expect(await unavailable(http.checkDocument(person))).toMatchObject({ reason: 'error' });
    expect(stub.calls).toBe(3);
    // Attempts 4 and 5 fail; the breaker opens and the call's third attempt is not made.
    expect(await unavailable(http.checkDocument(person))).toMatchObject({ reason: 'circuit-open' });
    expect(stub.calls).toBe(5);
    stub.setMode({ kind: 'ok' });
    expect(await unavailable(http.checkDocument(person))).toMatchObject({ reason: 'circuit-open' });
    expect(stub.calls).toBe(5);
  });

  it('counts timeouts as failures', async () => {
    stub.setMode({ kind: 'hang' });
    const http = provider({ timeoutMs: 30, retries: 1, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 10_000 } });
    expect(await unavailable(http.checkDocument(person))).toMatchObject({ reason: 'timeout' });
    expect(await unavailable(http.checkDocument(person))).toMatchObject({ reason: 'circuit-open' });
    expect(stub.calls).toBe(2);
  });

  it('does not open on 400s, which are our bugs, not the service being down', async () => {
    stub.setMode({ kind: '400' });
    const http = provider({ retries: 0, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 10_000 } });
    for (let i = 0; i < 3; i++)
      expect(await unavailable(http.checkDocument(person))).toMatchObject({ reason: 'error' });
    expect(stub.calls).toBe(3);
  });

  it('half-opens after the delay and follows a flapping service: down, up, down, up', async () => {
    // cockatiel times the open state with Date.now(): on a stopped wall clock the breaker stays
    // open however slow the machine, and is past its delay the moment the test moves the clock.
    const clock = stopWallClock();
    const halfOpenAfterMs = 10_000;
    const http = provider({ retries: 0, breaker: { consecutiveFailures: 2, halfOpenAfterMs } });
    const expectOpen = async () => {
      const before = stub.calls;
      expect(await unavailable(http.checkDocument(person))).toMatchObject({ reason: 'circuit-open' });
      expect(stub.calls).toBe(before);
    };

    stub.setMode({ kind: 'down' });
    for (let i = 0; i < 2; i++)
      expect(await unavailable(http.checkDocument(person))).toMatchObject({ reason: 'error' });
    await expectOpen();

    stub.setMode({ kind: 'ok' }); // up: the first call after the delay is the trial, and closes it
    clock.advance(halfOpenAfterMs - 1);
    await expectOpen(); // not a millisecond early
    clock.advance(1);
    await expect(http.checkDocument(person)).resolves.toMatchObject({ result: 'match' });
    await expect(http.checkDocument(person)).resolves.toMatchObject({ result: 'match' });

    stub.setMode({ kind: 'down' }); // down again: closed, so it takes two failures to open
    for (let i = 0; i < 2; i++)
      expect(await unavailable(http.checkDocument(person))).toMatchObject({ reason: 'error' });
    await expectOpen();
    clock.advance(halfOpenAfterMs); // the trial fails: open again at once
    expect(await unavailable(http.checkDocument(person))).toMatchObject({ reason: 'error' });
    await expectOpen();

    stub.setMode({ kind: 'ok' }); // up
    clock.advance(halfOpenAfterMs);
    await expect(http.checkDocument(person)).resolves.toMatchObject({ result: 'match' });
    expect(stub.calls).toBe(8);
  });
});
