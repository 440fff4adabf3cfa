import { readFile } from 'node:fs/promises';
import { InvalidInput } from '../errors.js';
import { CLI_OPERATOR, type CliContext } from './context.js';
import { listOption, requireOption, type Options } from './options.js';

type Client = {
  client_id: string;
  name: string;
  kind: string;
  grant_levels: string[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  client_secret?: string;
  security_profile?: string;
  jwks_uri?: string;
  jwks_keys?: number;
  require_passkey?: boolean;
  events_endpoint?: string | null;
  backchannel_logout_uri?: string | null;
  category?: string;
  security_level?: number;
  disabled?: boolean;
};

/**
 * `client add --name N --redirect-uri U [--post-logout-redirect-uri U] [--kind] [--levels a,b]
 * [--category C] [--security-level n] [--require-passkey] [--events-endpoint U] [--backchannel-logout-uri U]
 * [--profile fapi2] [--jwks FILE | --jwks-uri URL] [--id-token-alg A] [--userinfo-alg A]
 * [--userinfo-enc-alg A [--userinfo-enc E]] [--id-token-enc-alg A [--id-token-enc E]]`
 */
export async function clientAdd(ctx: CliContext, options: Options): Promise<void> {
  const body = {
    name: requireOption(options, 'name'),
    kind: options.kind,
    redirect_uris: listOption(options, 'redirect-uri'),
    post_logout_redirect_uris: listOption(options, 'post-logout-redirect-uri'),
    levels: options.levels ? listOption(options, 'levels') : undefined,
    category: options.category,
    security_level: options['security-level'],
    result_max_age_days: options['result-max-age-days'],
    result_max_queries: options['result-max-queries'],
    require_passkey: options['require-passkey'] === true ? true : undefined,
    events_endpoint: options['events-endpoint'],
    backchannel_logout_uri: options['backchannel-logout-uri'],
    profile: options.profile,
    jwks: typeof options.jwks === 'string' ? await readJwks(options.jwks) : undefined,
    jwks_uri: options['jwks-uri'],
    id_token_alg: options['id-token-alg'],
    userinfo_alg: options['userinfo-alg'],
    userinfo_encryption: encryptionOption(options, 'userinfo'),
    id_token_encryption: encryptionOption(options, 'id-token'),
  };
  const added = (await (await ctx.admin()).addClient(withoutUndefined(body), CLI_OPERATOR)) as Client;
  const secret = added.client_secret;
  ctx.print(
    { ...added },
    [
      `Registered ${added.kind} "${added.name}"`,
      `  client_id:     ${added.client_id}`,
      secret
        ? `  client_secret: ${secret}   (shown once; store it now)`
        : `  profile:       ${added.security_profile} (private_key_jwt, PAR, DPoP; no secret)`,
      ...describe(added),
    ].join('\n'),
  );
}

/** The lines `client add` and `client show` print under the id. */
function describe(client: Client): string[] {
  return [
    ...(client.jwks_uri ? [`  jwks_uri:      ${client.jwks_uri}`] : []),
    ...(client.jwks_keys ? [`  jwks:          ${client.jwks_keys} key(s)`] : []),
    `  levels:        ${client.grant_levels.join(', ')}`,
    `  redirect_uris: ${client.redirect_uris.join(' ') || '(none)'}`,
    ...(client.require_passkey ? ['  sign-in:       passkey required'] : []),
    ...(client.post_logout_redirect_uris.length
      ? [`  post_logout_redirect_uris: ${client.post_logout_redirect_uris.join(' ')}`]
      : []),
    ...(client.events_endpoint ? [`  events_endpoint: ${client.events_endpoint}`] : []),
    ...(client.backchannel_logout_uri ? [`  backchannel_logout_uri: ${client.backchannel_logout_uri}`] : []),
  ];
}

/**
 * `client keys --client-id ID --jwks FILE | --jwks-uri URL`: replaces a client's public keys
 * (rotation), audited as `client.keys_replaced`.
 */
export async function clientKeys(ctx: CliContext, options: Options): Promise<void> {
  const clientId = requireOption(options, 'client-id');
  const body = withoutUndefined({
    jwks: typeof options.jwks === 'string' ? await readJwks(options.jwks) : undefined,
    jwks_uri: options['jwks-uri'],
  });
  const updated = (await (await ctx.admin()).replaceClientKeys(clientId, body, CLI_OPERATOR)) as {
    jwks_uri?: string;
    jwks_keys?: number;
  };
  ctx.print(
    updated,
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
  const enc = options[`${prefix}-enc`];
  return { alg, ...(typeof enc === 'string' ? { enc } : {}) };
}

/** `client list` */
export async function clientList(ctx: CliContext): Promise<void> {
  const { clients } = (await (await ctx.admin()).listClients()) as { clients: Client[] };
  ctx.print(
    { clients },
    clients
      .map(
        (c) =>
          `${c.client_id}  ${c.kind.padEnd(8)}  ${c.name}  [${c.grant_levels.join(',')}]${c.security_profile ? `  ${c.security_profile}` : ''}${c.disabled ? '  DISABLED' : ''}`,
      )
      .join('\n') || '(no clients)',
  );
}

/** `client show --client-id ID` */
export async function clientShow(ctx: CliContext, options: Options): Promise<void> {
  const client = (await (await ctx.admin()).showClient(requireOption(options, 'client-id'))) as Client;
  ctx.print(
    { ...client },
    [
      `${client.kind} "${client.name}"${client.disabled ? '  (DISABLED)' : ''}`,
      `  client_id:     ${client.client_id}`,
      `  category:      ${client.category}   security level ${client.security_level}`,
      ...describe(client),
    ].join('\n'),
  );
}

/** `client update --client-id ID [--name N] [--redirect-uri U]... [--levels a,b] [--category C] [--security-level n]` */
export async function clientUpdate(ctx: CliContext, options: Options): Promise<void> {
  const redirectUris = listOption(options, 'redirect-uri');
  const body = withoutUndefined({
    name: options.name,
    redirect_uris: redirectUris.length ? redirectUris : undefined,
    levels: options.levels ? listOption(options, 'levels') : undefined,
    category: options.category,
    security_level: options['security-level'],
  });
  const client = (await (
    await ctx.admin()
  ).updateClient(requireOption(options, 'client-id'), body, CLI_OPERATOR)) as Client;
  ctx.print(
    { ...client },
    [`Updated ${client.kind} "${client.name}" (${client.client_id})`, ...describe(client)].join('\n'),
  );
}

/** `client disable --client-id ID` and `client enable --client-id ID` */
export function clientSetDisabled(disabled: boolean) {
  return async (ctx: CliContext, options: Options): Promise<void> => {
    const clientId = requireOption(options, 'client-id');
    const result = await (await ctx.admin()).setClientDisabled(clientId, disabled, CLI_OPERATOR);
    const state = disabled ? 'disabled' : 'enabled';
    ctx.print(
      result,
      result.changed ? `${clientId} is now ${state}.` : `${clientId} is already ${state}; nothing changed.`,
    );
  };
}

/** `client secret --client-id ID`: a new secret, shown once. */
export async function clientSecret(ctx: CliContext, options: Options): Promise<void> {
  const result = (await (await ctx.admin()).rotateClientSecret(requireOption(options, 'client-id'), CLI_OPERATOR)) as {
    client_id: string;
    client_secret: string;
  };
  ctx.print(
    result,
    [
      `New secret for ${result.client_id}; the old one no longer works.`,
      `  client_secret: ${result.client_secret}   (shown once; store it now)`,
    ].join('\n'),
  );
}

/** `client delete --client-id ID` */
export async function clientDelete(ctx: CliContext, options: Options): Promise<void> {
  const clientId = requireOption(options, 'client-id');
  const result = await (await ctx.admin()).deleteClient(clientId, CLI_OPERATOR);
  ctx.print(result, `Deleted ${clientId}.`);
}

function withoutUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
