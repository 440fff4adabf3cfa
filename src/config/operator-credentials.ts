// The operator CLI's credentials for the admin API (`--url`): an operator client's id and secret
// (`operator credentials LOGIN`), from the environment so that the secret never shows in a
// process list or a shell history.
import { ConfigError } from './load.js';

export interface OperatorCredentials {
  clientId: string;
  clientSecret: string;
}

/** `OPERATOR_CLIENT_ID` and `OPERATOR_CLIENT_SECRET`, both or neither. */
export function operatorCredentials(env: NodeJS.ProcessEnv = process.env): OperatorCredentials | undefined {
  const clientId = env.OPERATOR_CLIENT_ID?.trim();
  const clientSecret = env.OPERATOR_CLIENT_SECRET?.trim();
  if (!clientId && !clientSecret) return undefined;
  if (!clientId || !clientSecret) {
    throw new ConfigError([
      'OPERATOR_CLIENT_ID, OPERATOR_CLIENT_SECRET: set both (the id and secret `operator credentials LOGIN` printed)',
    ]);
  }
  return { clientId, clientSecret };
}
