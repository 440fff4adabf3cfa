import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load.js';
import { PlatformError } from '../errors.js';
import { accountDisable, accountEnable } from './account.js';
import { auditVerify, auditVerifyBundle } from './audit.js';
import {
  clientAdd,
  clientDelete,
  clientKeys,
  clientList,
  clientSecret,
  clientSetDisabled,
  clientShow,
  clientUpdate,
} from './client.js';
import { eventsList } from './events.js';
import { openCliContext, type CliContext } from './context.js';
import { keysRotate } from './keys.js';
import { operatorAdd, operatorCredentials, operatorList, operatorRemove } from './operator.js';
import { securityLog, sessionsEnd } from './security.js';
import { costs, selfcheck } from './verification.js';
import type { Options } from './options.js';

const USAGE = `Usage: npm run cli -- <command> [options] [--json] [--url URL]

Commands:
  migrate                         apply pending database migrations
  client add --name N --redirect-uri U [--redirect-uri U2] [--post-logout-redirect-uri U]
             [--kind merchant|notary]
             [--levels result,credentials,dossier] [--category C] [--security-level 1|2|3]
             [--result-max-age-days N] [--result-max-queries N]
             [--require-passkey]  every sign-in for this merchant must use a passkey
             [--events-endpoint U]  where Security Event Tokens about its grants are pushed
             [--backchannel-logout-uri U]  where logout tokens are posted
             [--profile fapi2 --jwks FILE | --jwks-uri URL]
                                  FAPI 2.0: PAR, private_key_jwt with these keys, DPoP; no secret
             [--id-token-alg RS256|PS256|ES256] [--userinfo-alg RS256|PS256|ES256]
             [--userinfo-enc-alg RSA-OAEP-256|ECDH-ES|ECDH-ES+A256KW [--userinfo-enc A256GCM|A128GCM]]
             [--id-token-enc-alg ALG [--id-token-enc ENC]]
                                  signed and encrypted userinfo, encrypted ID tokens (keys: --jwks)
  client keys --client-id ID --jwks FILE | --jwks-uri URL
                                  replace a client's public keys (audited)
  client list
  client show --client-id ID
  client update --client-id ID [--name N] [--redirect-uri U]... [--levels a,b] [--category C]
             [--security-level 1|2|3]
  client disable --client-id ID   it signs no one in, its tokens are refused (audited)
  client enable --client-id ID
  client secret --client-id ID    a new client secret, shown once; the old one stops working
  client delete --client-id ID
  keys rotate [--purpose oidc-signing|cookie|audit-tree-head]
                                  every running process loads the new keys within seconds
  audit verify [--heads FILE] [--keys FILE|URL]
                                  recompute the whole audit tree; check every signed tree head,
                                  those kept in audit.headsDir and a notary's copies (--heads)
  audit verify-bundle FILE [--keys FILE|URL]
                                  check an evidence bundle offline (no database needed)
  costs [--since YYYY-MM-DD]      provider calls, their cost, and queries served by reuse
  selfcheck [--expiring-within DAYS] [--deliver]
                                  queue reminders for unverified, failed or expiring accounts
  security log [--login L] [--since YYYY-MM-DD]
                                  sign-ins, failures, lockouts, password and passkey changes
                                  (of one account, or all; the last 7 days by default)
  sessions end --login L          sign an account out everywhere
  account disable --login L [--reason TEXT]
                                  disable an account: end its sessions, revoke its tokens,
                                  refuse its sign-ins (its grants are kept)
  account enable --login L        let a disabled account sign in again
  events list [--failed]          Security Event Tokens pushed to merchants: status, attempts,
                                  last error (--failed: only those given up on)
  operator add LOGIN              make a person account an operator (admin API, console at /admin)
  operator remove LOGIN
  operator list
  operator credentials LOGIN      an operator client for the admin API, its secret shown once

With --json a command prints one JSON object on stdout.
With --url URL a command goes through the admin API of the platform running at URL, with the
operator client in OPERATOR_CLIENT_ID and OPERATOR_CLIENT_SECRET, and prints the same. Without
--url it uses the database; if a running platform holds the embedded database and those two are
set, its admin API at the issuer is used. migrate and operator credentials need the database.`;

/** A command, given its argument (`operator add LOGIN`); a number it returns is the exit code (default 0). */
type Command = (ctx: CliContext, options: Options, argument?: string) => Promise<void | number>;

const COMMANDS: Record<string, Command> = {
  migrate: async (ctx) => {
    await ctx.local();
    ctx.print({ migrated: true }, 'Database is up to date.');
  },
  'client add': clientAdd,
  'client keys': clientKeys,
  'client list': clientList,
  'client show': clientShow,
  'client update': clientUpdate,
  'client disable': clientSetDisabled(true),
  'client enable': clientSetDisabled(false),
  'client secret': clientSecret,
  'client delete': clientDelete,
  'operator add': operatorAdd,
  'operator remove': operatorRemove,
  'operator list': operatorList,
  'operator credentials': operatorCredentials,
  'keys rotate': keysRotate,
  'audit verify': auditVerify,
  costs,
  selfcheck,
  'security log': securityLog,
  'sessions end': sessionsEnd,
  'account disable': accountDisable,
  'account enable': accountEnable,
  'events list': eventsList,
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      kind: { type: 'string' },
      levels: { type: 'string' },
      category: { type: 'string' },
      'security-level': { type: 'string' },
      'result-max-age-days': { type: 'string' },
      'result-max-queries': { type: 'string' },
      'require-passkey': { type: 'boolean' },
      'events-endpoint': { type: 'string' },
      'backchannel-logout-uri': { type: 'string' },
      failed: { type: 'boolean' },
      profile: { type: 'string' },
      jwks: { type: 'string' },
      'jwks-uri': { type: 'string' },
      'id-token-alg': { type: 'string' },
      'userinfo-alg': { type: 'string' },
      'userinfo-enc-alg': { type: 'string' },
      'userinfo-enc': { type: 'string' },
      'id-token-enc-alg': { type: 'string' },
      'id-token-enc': { type: 'string' },
      'client-id': { type: 'string' },
      purpose: { type: 'string' },
      keys: { type: 'string' },
      heads: { type: 'string', multiple: true },
      since: { type: 'string' },
      'expiring-within': { type: 'string' },
      deliver: { type: 'boolean' },
      login: { type: 'string' },
      reason: { type: 'string' },
      url: { type: 'string' },
    },
  });
  const name = positionals.slice(0, 2).join(' ');
  // Offline: a notary runs this without any platform database.
  if (name === 'audit verify-bundle' && !values.help) {
    const json = values.json ?? false;
    return auditVerifyBundle(
      (result, human) => console.log(json ? JSON.stringify(result) : human),
      positionals[2],
      values as Options,
    );
  }
  const command = COMMANDS[name] ?? COMMANDS[positionals[0] ?? ''];
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const ctx = openCliContext(values.json ?? false, values.url, name);
  try {
    return (await command(ctx, values as Options, positionals[2])) ?? 0;
  } finally {
    await ctx.close();
  }
}

function report(err: unknown, json: boolean): number {
  if (err instanceof ConfigError) {
    console.error(err.message);
    return 1;
  }
  if (err instanceof PlatformError && err.expose) {
    if (json) console.log(JSON.stringify({ error: err.code, message: err.message, errors: err.extra.errors }));
    console.error(
      `Error: ${err.message}${(err.extra.errors ?? []).map((e) => `\n  - ${e.field}: ${e.message ?? e.code}`).join('')}`,
    );
    return 1;
  }
  if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  console.error('Command failed:', err instanceof Error ? err.message : err);
  return 1;
}

const argv = process.argv.slice(2);
main(argv)
  .then((code) => process.exit(code))
  .catch((err) => process.exit(report(err, argv.includes('--json'))));
