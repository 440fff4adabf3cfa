import { isWholeImage } from '../images.js';
import {
  ProviderUnavailable,
  type DocumentCheckRequest,
  type PersonMatchRequest,
  type PhoneCarrier,
  type PhoneCheckRequest,
  type ProviderAnswer,
  type VerificationProvider,
} from './types.js';

/**
 * The sandbox provider (the default outside production; docs/product.md#sandbox-provider):
 * deterministic rules, no network.
 * - Document check: a well-formed number (already validated) with a non-empty name matches.
 * - Person-document match: matches when both images are whole PNG or JPEG files.
 * - Three reserved names rehearse failures: 测试不符 (mismatch), 测试超时 (the provider times
 *   out), 测试故障 (the provider answers with an error).
 */
export const SANDBOX_NAMES = { mismatch: '测试不符', timeout: '测试超时', failure: '测试故障' } as const;

function reserved(name: string, provider: string): ProviderAnswer | undefined {
  if (name === SANDBOX_NAMES.mismatch)
    return { result: 'mismatch', reason: 'name_mismatch', reference: 'sandbox-mismatch' };
  if (name === SANDBOX_NAMES.timeout)
    throw new ProviderUnavailable(provider, 'timeout', 'the sandbox provider timed out (reserved name)');
  if (name === SANDBOX_NAMES.failure)
    throw new ProviderUnavailable(provider, 'error', 'the sandbox provider failed (reserved name)');
  return undefined;
}

export class SandboxProvider implements VerificationProvider {
  readonly name = 'sandbox';

  async checkDocument(request: DocumentCheckRequest): Promise<ProviderAnswer> {
    return (
      reserved(request.name, this.name) ??
      (request.name.trim() ? { result: 'match', reference: 'sandbox' } : { result: 'mismatch', reason: 'name_missing' })
    );
  }

  async matchPerson(request: PersonMatchRequest): Promise<ProviderAnswer> {
    const answer = reserved(request.name, this.name);
    if (answer) return answer;
    if (!isWholeImage(request.portrait.data) || !isWholeImage(request.documentFront.data)) {
      return { result: 'mismatch', reason: 'image_unreadable', reference: 'sandbox' };
    }
    return { result: 'match', reference: 'sandbox' };
  }
}

/** A sandbox carrier for the three-element phone check, with the same reserved names. */
export class SandboxCarrier implements PhoneCarrier {
  constructor(readonly name: string) {}

  async checkPhone(request: PhoneCheckRequest): Promise<ProviderAnswer> {
    return reserved(request.name, this.name) ?? { result: 'match', reference: `sandbox-${this.name}` };
  }
}
