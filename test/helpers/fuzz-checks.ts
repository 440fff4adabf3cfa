import type { RawRequest, RawResponse } from './raw-http.js';

// What a fuzzed request's answer must look like, whatever was sent (test/integration/fuzz.test.ts).

/** Paths oidc-provider serves to clients; their errors are OAuth JSON (RFC 6749 §5.2). */
const OAUTH_PATHS = new Set(['/token', '/token/introspection', '/token/revocation', '/me', '/jwks']);
/** What an answer must never show: stack traces, SQL errors, file paths. */
export const LEAK =
  /\bat [\w$.<>]+ \([^)]*:\d+:\d+\)|node_modules\/|\/work\/|SQLSTATE|syntax error at or near|violates [a-z -]*constraint|invalid byte sequence|TypeError|ReferenceError|Cannot read properties/;

/** What is wrong with an answer's status and format. */
export function answerProblems(req: RawRequest, res: RawResponse): string[] {
  const problems: string[] = [];
  const { status } = res;
  const type = String(res.headers['content-type'] ?? '');
  const text = res.body.toString('utf8');
  // The path the app routes on (an absolute-form target is routed on its path, RFC 9112 §3.2.2).
  const path = req.path.replace(/^https?:\/\/[^/]*/i, '').split(/[?#]/)[0]!;
  const accept = req.headers.find(([n]) => n.toLowerCase() === 'accept')?.[1] ?? '';
  if (status >= 500 || status < 100) problems.push(`status ${status}`);
  if (LEAK.test(text)) problems.push(`the answer leaks internals: ${LEAK.exec(text)![0]}`);
  if (req.method === 'HEAD' || status === 204 || status === 304) return problems;
  if (status >= 300 && status < 400) {
    if (!res.headers.location) problems.push('a redirect without Location');
    return problems;
  }
  // Node's own HTTP parser refuses bad framing before the app sees it: 400/413/431, no body.
  const fromApp = res.headers['x-request-id'] !== undefined;
  if (!res.body.length) {
    if (fromApp && status >= 400) problems.push('an error with an empty body');
    return problems;
  }
  if (/json/.test(type)) {
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      problems.push('a JSON answer that does not parse');
    }
    if (parsed && status >= 400) {
      if (/problem\+json/.test(type)) {
        if (typeof parsed.type !== 'string' || parsed.status !== status || typeof parsed.title !== 'string')
          problems.push('a malformed problem+json');
      } else if (typeof parsed.error !== 'string') problems.push('a JSON error without `error`');
    }
  } else if (/text\/html/.test(type)) {
    if (!/<\/html>\s*$/i.test(text)) problems.push('an incomplete HTML page');
  } else if (status >= 400) problems.push(`an error answered as ${type || 'no content type'}`);
  if (fromApp && status >= 400) {
    if (path.startsWith('/api/') && !/^application\/problem\+json/.test(type))
      problems.push(`an API error as ${type}, not problem+json`);
    // oidc-provider answers JSON to a client that does not ask for HTML; our pages answer HTML.
    const wantsHtml = /text\/html/.test(accept) && !/json/.test(accept);
    if (OAUTH_PATHS.has(path) && !wantsHtml && !/^application\/json/.test(type))
      problems.push(`an OAuth endpoint error as ${type}, not OAuth JSON`);
    if (!path.startsWith('/api/') && !OAUTH_PATHS.has(path) && wantsHtml && !/^text\/html/.test(type))
      problems.push(`a page error as ${type} to Accept: ${accept}`);
  }
  return problems;
}
