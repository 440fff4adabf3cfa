import { DeliveryRefused, type Notifier, type OutgoingMessage } from './notifier.js';

export interface SetPushOptions {
  /** Milliseconds before an unanswered push counts as failed and is retried (default 10 s). */
  timeoutMs?: number;
}

/**
 * Pushes Security Event Tokens to merchants' events endpoints, as RFC 8935 §2 describes: one POST
 * per SET, `Content-Type: application/secevent+jwt`, the signed token as the body. The message's
 * `to` is the endpoint and its `text` the token (queued by src/merchant-events/).
 *
 * - 202 Accepted: delivered (RFC 8935 §2.2: the recipient "MUST respond with HTTP Response Status
 *   Code 202"); any other success code is a recipient that does not speak the protocol.
 * - 400 with `{"err", "description"}` (§2.3), or any other 4xx but 429: refused for good; the
 *   error is kept for the operator and the SET is not sent again.
 * - 429, 5xx, no answer within the timeout, a network failure: retried with backoff (§2.4 lets the
 *   transmitter retry; the same SET, same `jti`, so the recipient can drop a copy).
 * - A redirect is not followed (an endpoint is registered, not discovered) and counts as refused.
 */
export class SetPushNotifier implements Notifier {
  readonly channel = 'set' as const;

  constructor(private readonly options: SetPushOptions = {}) {}

  async send(message: OutgoingMessage): Promise<void> {
    const response = await fetch(message.to, {
      method: 'POST',
      headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json' },
      body: message.text,
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      redirect: 'manual',
    });
    if (response.status === 202) {
      await response.body?.cancel();
      return;
    }
    const detail = await errorOf(response);
    const reason = `the events endpoint answered ${response.status}${detail ? ` ${detail}` : ''}`;
    if (response.status === 429 || response.status >= 500) throw new Error(reason);
    throw new DeliveryRefused(reason);
  }
}

/** The RFC 8935 §2.3 error of a refusal (`err: description`), if the body is one. */
async function errorOf(response: Response): Promise<string | undefined> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text.slice(0, 4000)) as { err?: unknown; description?: unknown };
    if (typeof body.err !== 'string') return undefined;
    return typeof body.description === 'string' ? `${body.err}: ${body.description}` : body.err;
  } catch {
    return undefined;
  }
}
