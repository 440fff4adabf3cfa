import type { DocumentType } from '../document-number.js';

/**
 * What the platform asks of an identity-verification service, and what it gets back. Providers
 * sit behind this one interface: the sandbox (development and tests), the HTTP provider (a real
 * service), and the carriers of the three-element phone check.
 */

/** An image the person uploaded; its type was checked by magic bytes before it got here. */
export interface Image {
  contentType: 'image/png' | 'image/jpeg';
  data: Buffer;
}

/** Document check (证件校验): name and number against an authoritative source. */
export interface DocumentCheckRequest {
  documentType: DocumentType;
  /** Normalized (see normalizeDocumentNumber) and validated. */
  documentNumber: string;
  name: string;
}

/** Person-document match (人证同检): liveness and face of the portrait against the document photo. */
export interface PersonMatchRequest extends DocumentCheckRequest {
  portrait: Image;
  documentFront: Image;
}

/**
 * Three-element phone check (docs/verification.md#three-element-phone-check): phone, name and
 * number at the carrier.
 */
export interface PhoneCheckRequest extends DocumentCheckRequest {
  /** E.164, e.g. +8613800138000. */
  phone: string;
}

/**
 * A provider's answer. `match`/`mismatch` are final answers about the person; anything else
 * (timeout, 5xx, circuit open) is thrown as ProviderUnavailable and never counts as an answer.
 */
export type ProviderAnswer =
  { result: 'match'; reference?: string } | { result: 'mismatch'; reason: string; reference?: string };

export interface VerificationProvider {
  /** Stable name recorded with each call (e.g. `sandbox`, `http`). */
  readonly name: string;
  /** The circuit breaker's state in this process (`closed`, `open`, `half-open`), for a provider that has one. */
  circuit?(): string;
  checkDocument(request: DocumentCheckRequest, signal?: AbortSignal): Promise<ProviderAnswer>;
  matchPerson(request: PersonMatchRequest, signal?: AbortSignal): Promise<ProviderAnswer>;
}

/** One mobile carrier's three-element check. */
export interface PhoneCarrier {
  /** e.g. `china-mobile`, `china-unicom`, `china-telecom`, or an aggregator's name. */
  readonly name: string;
  checkPhone(request: PhoneCheckRequest, signal?: AbortSignal): Promise<ProviderAnswer>;
}

/** The service could not give an answer now: the person is told to try again later. */
export class ProviderUnavailable extends Error {
  constructor(
    readonly provider: string,
    readonly reason: 'timeout' | 'error' | 'circuit-open' | 'unreachable' | 'bad-response',
    message: string,
  ) {
    super(message);
    this.name = 'ProviderUnavailable';
  }
}
