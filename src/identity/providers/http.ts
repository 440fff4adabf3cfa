/**
 * A verification service reached over HTTP: the document check and person-document match
 * (HttpProvider) and a carrier's or aggregator's three-element phone check (HttpPhoneCarrier).
 *
 * Protocol (the service implements it; docs/verification.md#the-http-provider-protocol copies it):
 *
 *   POST {baseUrl}/v1/document-check  {"document_type", "document_number", "name"}
 *   POST {baseUrl}/v1/person-match    {"document_type", "document_number", "name",
 *                                      "portrait": {"content_type", "data"},
 *                                      "document_front": {"content_type", "data"}}
 *   POST {baseUrl}/v1/phone-check     {"phone", "document_type", "document_number", "name"}
 *
 *   Request headers: `Content-Type: application/json`, `Authorization: Bearer <apiKey>`,
 *   `Idempotency-Key: <uuid>` (one key per logical call, repeated on each retry of it, so the
 *   service can bill and answer a retried call once). `data` is the image in base64; `phone` is
 *   E.164; `document_number` is normalized (see normalizeDocumentNumber).
 *
 *   Answer: 200 with JSON `{"result": "match" | "mismatch", "reason"?: string, "reference"?: string}`.
 *   Anything else is not an answer about the person and is thrown as ProviderUnavailable:
 *   - 200 that is not JSON of that shape, or another 2xx/3xx (redirects are not followed)
 *                                          → 'bad-response', not retried;
 *   - 408, 429, 5xx, network errors       → 'error' / 'unreachable', retried;
 *   - an attempt over `timeoutMs`         → 'timeout', retried;
 *   - any other 4xx: our request is wrong → 'error', not retried, not counted by the breaker;
 *   - breaker open                        → 'circuit-open', without calling the service.
 *   A failure never becomes a `match` or a `mismatch`.
 *
 * Request bodies carry identity data and are never logged; error messages name only the
 * provider, the path and the status.
 */
import { randomUUID } from 'node:crypto';
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  wrap,
} from 'cockatiel';
import { z } from 'zod';
import type {
  DocumentCheckRequest,
  Image,
  PersonMatchRequest,
  PhoneCarrier,
  PhoneCheckRequest,
  ProviderAnswer,
  VerificationProvider,
} from './types.js';
import { ProviderUnavailable } from './types.js';

export interface HttpProviderOptions {
  /** Recorded with each call and carried by ProviderUnavailable, e.g. `http` or `china-mobile`. */
  name: string;
  /** The service's origin (and optional path prefix); `/v1/...` is appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey: string;
  /** Limit for one attempt, reading the whole answer included. Default 3000. */
  timeoutMs?: number;
  /** Further attempts after a retryable failure (so at most 1 + retries requests). Default 2. */
  retries?: number;
  /** Delay between attempts: exponential with decorrelated jitter. Default 100 ms, at most 2000 ms. */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * Consecutive failed attempts that open the breaker (default 5), and how long it stays open
   * before one trial request is let through (default 10000 ms).
   */
  breaker?: { consecutiveFailures?: number; halfOpenAfterMs?: number };
}

const DEFAULTS = {
  timeoutMs: 3000,
  retries: 2,
  backoff: { initialMs: 100, maxMs: 2000 },
  breaker: { consecutiveFailures: 5, halfOpenAfterMs: 10_000 },
};

export class HttpProvider implements VerificationProvider {
  readonly name: string;
  readonly #service: ServiceClient;

  constructor(options: HttpProviderOptions) {
    this.name = options.name;
    this.#service = new ServiceClient(options);
  }

  circuit(): string {
    return this.#service.circuit;
  }

  checkDocument(request: DocumentCheckRequest, signal?: AbortSignal): Promise<ProviderAnswer> {
    return this.#service.call('/v1/document-check', documentFields(request), signal);
  }

  matchPerson(request: PersonMatchRequest, signal?: AbortSignal): Promise<ProviderAnswer> {
    const body = {
      ...documentFields(request),
      portrait: imageField(request.portrait),
      document_front: imageField(request.documentFront),
    };
    return this.#service.call('/v1/person-match', body, signal);
  }
}

export class HttpPhoneCarrier implements PhoneCarrier {
  readonly name: string;
  readonly #service: ServiceClient;

  constructor(options: HttpProviderOptions) {
    this.name = options.name;
    this.#service = new ServiceClient(options);
  }

  checkPhone(request: PhoneCheckRequest, signal?: AbortSignal): Promise<ProviderAnswer> {
    return this.#service.call('/v1/phone-check', { phone: request.phone, ...documentFields(request) }, signal);
  }
}

function documentFields(request: DocumentCheckRequest) {
  return { document_type: request.documentType, document_number: request.documentNumber, name: request.name };
}

function imageField(image: Image) {
  return { content_type: image.contentType, data: image.data.toString('base64') };
}

const Answer = z.discriminatedUnion('result', [
  z.object({ result: z.literal('match'), reference: z.string().max(200).optional() }),
  z.object({
    result: z.literal('mismatch'),
    reason: z.string().max(200).optional(),
    reference: z.string().max(200).optional(),
  }),
]);

/** One failed attempt; `retryable` says whether another attempt may succeed. */
class AttemptFailed extends Error {
  constructor(
    readonly reason: 'error' | 'unreachable' | 'bad-response',
    readonly retryable: boolean,
    message: string,
  ) {
    super(message);
  }
}

const isRetryable = (error: unknown) =>
  error instanceof TaskCancelledError || (error instanceof AttemptFailed && error.retryable);

// The breaker counts what says the service is unwell; a non-retryable 4xx is our own bug and
// must neither open nor (by succeeding) close it: cockatiel passes unhandled errors straight through.
const isServiceFailure = (error: unknown) =>
  isRetryable(error) || (error instanceof AttemptFailed && error.reason === 'bad-response');

// Connection-level codes (undici and libuv) meaning the service could not be reached at all.
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

class ServiceClient {
  readonly #name: string;
  readonly #baseUrl: string;
  readonly #apiKey: string;
  readonly #policy;
  readonly #breaker;

  constructor(options: HttpProviderOptions) {
    this.#name = options.name;
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    const backoff = { ...DEFAULTS.backoff, ...options.backoff };
    const breaker = { ...DEFAULTS.breaker, ...options.breaker };
    // Outermost to innermost, as Polly's PolicyWrap guidance orders them: retry → breaker → timeout.
    // - Timeout innermost: it limits one attempt, not the whole call with its backoff delays.
    // - Breaker inside retry: it counts attempts (a timed-out attempt included), so
    //   `consecutiveFailures` means failed requests to the service; once it opens, the next
    //   attempt throws BrokenCircuitError, which is not retryable, so a call in progress stops
    //   at once instead of sleeping through backoffs for attempts that cannot be made. Outside
    //   retry it would count whole calls and let a call succeeding on its third try hide two failures.
    this.#breaker = circuitBreaker(handleWhen(isServiceFailure), {
      halfOpenAfter: breaker.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(breaker.consecutiveFailures),
    });
    this.#policy = wrap(
      retry(handleWhen(isRetryable), {
        maxAttempts: options.retries ?? DEFAULTS.retries,
        // The default generator is decorrelated jitter (cockatiel's ExponentialBackoff docs), so
        // instances retrying together do not hit a recovering service in lockstep.
        backoff: new ExponentialBackoff({ initialDelay: backoff.initialMs, maxDelay: backoff.maxMs }),
      }),
      this.#breaker,
      // Aggressive: the attempt is abandoned the moment the time is up; the same signal also
      // aborts the fetch, so the socket is not left behind.
      timeout(options.timeoutMs ?? DEFAULTS.timeoutMs, TimeoutStrategy.Aggressive),
    );
  }

  /** The breaker's state: `closed`, `open`, `half-open` or `isolated`. */
  get circuit(): string {
    return ['closed', 'open', 'half-open', 'isolated'][this.#breaker.state] ?? String(this.#breaker.state);
  }

  async call(path: string, body: object, signal?: AbortSignal): Promise<ProviderAnswer> {
    const idempotencyKey = randomUUID();
    const payload = JSON.stringify(body);
    try {
      return await this.#policy.execute(
        (context) => this.#attempt(path, payload, idempotencyKey, context.signal),
        signal,
      );
    } catch (error) {
      throw this.#unavailable(path, error);
    }
  }

  async #attempt(path: string, payload: string, idempotencyKey: string, signal: AbortSignal): Promise<ProviderAnswer> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.#baseUrl}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${this.#apiKey}`,
          'idempotency-key': idempotencyKey,
        },
        body: payload,
        redirect: 'manual',
        signal,
      });
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined); // only frees the connection
        throw statusFailure(response.status);
      }
      text = await response.text();
    } catch (error) {
      throw error instanceof AttemptFailed ? error : networkFailure(error);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new AttemptFailed('bad-response', false, 'answer is not JSON');
    }
    const answer = Answer.safeParse(json);
    if (!answer.success) throw new AttemptFailed('bad-response', false, 'answer does not have the protocol shape');
    const { reference } = answer.data;
    return answer.data.result === 'match'
      ? { result: 'match', ...(reference && { reference }) }
      : { result: 'mismatch', reason: answer.data.reason ?? 'unspecified', ...(reference && { reference }) };
  }

  #unavailable(path: string, error: unknown): unknown {
    const fail = (reason: ProviderUnavailable['reason'], message: string) =>
      new ProviderUnavailable(this.#name, reason, `${this.#name} ${path}: ${message}`);
    if (error instanceof AttemptFailed) return fail(error.reason, error.message);
    if (error instanceof BrokenCircuitError) return fail('circuit-open', 'circuit open after repeated failures');
    if (error instanceof TaskCancelledError) return fail('timeout', error.message);
    return error; // a bug here, not an unavailable service: let it surface as it is
  }
}

function statusFailure(status: number): AttemptFailed {
  if (status === 408 || status === 429 || status >= 500) return new AttemptFailed('error', true, `HTTP ${status}`);
  if (status >= 400)
    return new AttemptFailed('error', false, `HTTP ${status}: request refused (our bug, not an answer)`);
  return new AttemptFailed('bad-response', false, `HTTP ${status} instead of 200`);
}

function networkFailure(error: unknown): AttemptFailed {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const reason = code && UNREACHABLE.has(code) ? 'unreachable' : 'error';
  return new AttemptFailed(reason, true, `network error${code ? ` (${code})` : ''}`);
}
