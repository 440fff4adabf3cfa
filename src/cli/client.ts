import type { CliContext } from './context.js';
import { listOption, requireOption, type Options } from './options.js';

/** `client add --name N --redirect-uri U [--post-logout-redirect-uri U] [--kind] [--levels a,b] [--category C] [--security-level n] [--require-passkey] [--events-endpoint U] [--backchannel-logout-uri U]` */
export async function clientAdd(ctx: CliContext, options: Options): Promise<void> {
  const { clients } = await ctx.services();
  const added = await clients.add({
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
  });
  ctx.print(
    { ...added },
    [
      `Registered ${added.kind} "${added.name}"`,
      `  client_id:     ${added.client_id}`,
      `  client_secret: ${added.client_secret}   (shown once; store it now)`,
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

/** `client list` */
export async function clientList(ctx: CliContext): Promise<void> {
  const clients = await (await ctx.services()).clients.list();
  ctx.print(
    { clients },
    clients.map((c) => `${c.client_id}  ${c.kind.padEnd(8)}  ${c.name}  [${c.grant_levels.join(',')}]`).join('\n') ||
      '(no clients)',
  );
}
