import { isIP } from 'node:net';
import type { Context, Next } from 'koa';
import { addressList } from '../ip-ranges.js';

/**
 * Every absolute URL the platform writes (discovery, redirects, endpoint URLs) starts with the
 * configured issuer, never with what a request says about itself. oidc-provider builds them from
 * `ctx.href` (`oidc-provider/lib/helpers/oidc_context.js` `urlFor`: `new URL(path, ctx.href)`),
 * which Koa builds from the Host header, or X-Forwarded-Host behind a proxy, or an absolute-form
 * request target: answering `Host: evil.example` with `token_endpoint: http://evil.example/token`
 * let any cache in front serve that to everyone. Only the URL-building getters are pinned:
 * `ctx.protocol` and `ctx.secure` still say how this request arrived, for HSTS and Secure cookies.
 */
export function pinOriginToIssuer(issuer: string) {
  const { origin, host, hostname } = new URL(issuer);
  return (ctx: Context, next: Next) => {
    const request = ctx.request;
    Object.defineProperties(request, {
      origin: { value: origin },
      host: { value: host },
      hostname: { value: hostname },
      // An absolute-form target (`GET http://evil.example/x`, RFC 9112 §3.2.2) keeps only its path.
      href: {
        get: () => origin + (URL.canParse(ctx.originalUrl) ? pathAndQuery(new URL(ctx.originalUrl)) : ctx.originalUrl),
      },
    });
    return next();
  };
}

const pathAndQuery = (url: URL) => url.pathname + url.search;

/** Headers a proxy sets about the client's request; believed only from a configured proxy. */
const FORWARDED_HEADERS = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded'];

/** The socket's address as the list knows it: an IPv4-mapped IPv6 address is its IPv4 address. */
function peerOf(address: string | undefined): [string, 'ipv4' | 'ipv6'] | undefined {
  if (!address) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return [mapped, 'ipv4'];
  return [address, isIP(address) === 6 ? 'ipv6' : 'ipv4'];
}

/**
 * With `trustProxy`, X-Forwarded-* headers are believed only on connections from the configured
 * proxies: a client that reaches a process directly could otherwise pick its own address with
 * every request (and never meet a per-address limit), its scheme and its host. From anyone else
 * the headers are removed before anything reads them (Koa caches `ctx.ip` on first read).
 */
export function forwardedHeadersOnlyFrom(trustedProxies: readonly string[]) {
  const proxies = addressList(trustedProxies);
  return (ctx: Context, next: Next) => {
    const peer = peerOf(ctx.req.socket.remoteAddress);
    if (!peer || !proxies.check(...peer)) {
      for (const name of FORWARDED_HEADERS) delete ctx.req.headers[name];
    }
    return next();
  };
}
