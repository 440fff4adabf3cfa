import type { Platform } from '../../src/platform.js';

/** The person the operator accounts of the console tests are verified as (the sandbox's match). */
export const OPERATOR_PERSON = { documentNumber: '11010519491231002X', name: '张三' };

/**
 * Registers an account, verifies it by document (so a step-up can match the person again) and
 * makes it an operator. Returns the account's id.
 */
export async function addVerifiedOperator(platform: Platform, login: string, password: string): Promise<string> {
  const account = await platform.accounts.register({ login, password });
  await platform.verifications.verify(account.id, {
    method: 'document',
    documentType: 'cn_resident_id',
    ...OPERATOR_PERSON,
  });
  await platform.operators.add(login, { type: 'operator' });
  return account.id;
}
