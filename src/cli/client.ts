import { readFile } from 'node:fs/promises';
import type { ClientInfo, RegisteredClient } from '../clients/service.js';
import { InvalidInput } from '../errors.js';
import type { CliContext } from './context.js';
import { listOption, requireOption, type Options } from './options.js';

/**
 * `client add --name N --redirect-uri U [--post-logout-redirect-uri U] [--kind] [--levels a,b]
 * [--category C] [--security-level n] [--require-passkey] [--events-endpoint U] [--backchannel-logout-uri U]
 * [--profile fapi2] [--jwks FILE | --jwks-uri URL] [--id-token-alg A] [--userinfo-alg A]
 * [--userinfo-enc-alg A [--userinfo-enc E]] [--id-token-enc-alg A [--id-token-enc E]]`
 */
export async function clientAdd(ctx: CliContext, options: Options): Promise<void> {
  const { clients } = await ctx.services();
  const added: ClientInfo | RegisteredClient = await clients.add({
    name: requireOption(options, 'name'),
    kind: options.kind as 'merchant' | 'notary' | undefined,
    redirectUris: listOption(options, 'redirect-uri'),
    postLogoutRedirectUris: listOption(options, 'post-logout-redirect-uri'),
    levels: options.levels ? (listOption(options, 'levels') as never) : undefined,
    category: options.category as string | undefined,
    securityLevel: options['security-level'] as unknown as number | undefined,
    resultMaxAgeDays: options['result-max-age-days'] as unknown as number | undefined,
    resultMaxQueries: options['result-max-queries'] as unknown as number | undefined,
    requirePasskey: options['require-passkey'] === true,
    eventsEndpoint: options['events-endpoint'] as string | undefined,
    backchannelLogoutUri: options['backchannel-logout-uri'] as string | undefined,
    profile: options.profile as 'fapi2' | undefined,
    jwks: typeof options.jwks === 'string' ? await readJwks(options.jwks) : undefined,
    jwksUri: options['jwks-uri'] as string | undefined,
    idTokenSigningAlg: options['id-token-alg'] as never,
    userinfoSigningAlg: options['userinfo-alg'] as never,
    userinfoEncryption: encryptionOption(options, 'userinfo'),
    idTokenEncryption: encryptionOption(options, 'id-token'),
  });
  const secret = 'client_secret' in added ? added.client_secret : undefined;
  ctx.print(
    { ...added },
    [
      `Registered ${added.kind} "${added.name}"`,
      `  client_id:     ${added.client_id}`,
      secret
        ? `  client_secret: ${secret}   (shown once; store it now)`
        : `  profile:       ${added.security_profile} (private_key_jwt, PAR, DPoP; no secret)`,
      ...(added.jwks_uri ? [`  jwks_uri:      ${added.jwks_uri}`] : []),
      ...(added.jwks_keys ? [`  jwks:          ${added.jwks_keys} key(s)`] : []),
      `  levels:        ${added.grant_levels.join(', ')}`,
      `  redirect_uris: ${added.redirect_uris.join(' ') || '(none)'}`,
      ...(added.require_passkey ? ['  sign-in:       passkey required'] : []),
      ...(added.post_logout_redirect_uris.length
        ? [`  post_logout_redirect_uris: ${added.post_logout_redirect_uris.join(' ')}`]
        : []),
      ...(added.events_endpoint ? [`  events_endpoint: ${added.events_endpoint}`] : []),
      ...(added.backchannel_logout_uri ? [`  backchannel_logout_uri: ${added.backchannel_logout_uri}`] : []),
    ].join('\n'),
  );
}

/**
 * `client keys --client-id ID --jwks FILE | --jwks-uri URL`: replaces a client's public keys
 * (rotation), audited as `client.keys_replaced`.
 */
export async function clientKeys(ctx: CliContext, options: Options): Promise<void> {
  const { clients } = await ctx.services();
  const clientId = requireOption(options, 'client-id');
  const updated = await clients.replaceKeys(clientId, {
    jwks: typeof options.jwks === 'string' ? await readJwks(options.jwks) : undefined,
    jwksUri: options['jwks-uri'] as string | undefined,
  });
  ctx.print(
    { client_id: updated.client_id, jwks_uri: updated.jwks_uri, jwks_keys: updated.jwks_keys },
    updated.jwks_uri
      ? `Keys of ${clientId} are now fetched from ${updated.jwks_uri}`
      : `Keys of ${clientId} replaced: ${updated.jwks_keys} key(s)`,
  );
}

/** A JWKS file: JSON with the client's public keys. */
async function readJwks(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch((err: Error) => {
    throw new InvalidInput([{ field: 'jwks', code: 'unreadable', message: `cannot read ${file}: ${err.message}` }]);
  });
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidInput([{ field: 'jwks', code: 'invalid_json', message: `${file} is not JSON` }]);
  }
}

/** `--<prefix>-enc-alg A [--<prefix>-enc E]` as an encryption choice. */
function encryptionOption(options: Options, prefix: string) {
  const alg = options[`${prefix}-enc-alg`];
  if (typeof alg !== 'string') return undefined;
  return { alg, enc: options[`${prefix}-enc`] as string | undefined } as never;
}

/** `client list` */
export async function clientList(ctx: CliContext): Promise<void> {
  const clients = await (await ctx.services()).clients.list();
  ctx.print(
    { clients },
    clients
      .map(
        (c) =>
          `${c.client_id}  ${c.kind.padEnd(8)}  ${c.name}  [${c.grant_levels.join(',')}]${c.security_profile ? `  ${c.security_profile}` : ''}`,
      )
      .join('\n') || '(no clients)',
  );
}
