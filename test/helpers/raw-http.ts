import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

// An HTTP client for fuzzing: sends the request-target, method and headers exactly as given
// (fetch would normalize `..`, refuse odd methods and rewrite headers), and falls back to a raw
// socket for what node:http refuses to send (control characters, non-Latin-1 bytes).

export interface RawRequest {
  method: string;
  /** The request-target as sent (`/a/%2e%2e/b?x=1`); not normalized. */
  path: string;
  /** Header lines in order; a name may repeat. */
  headers: Array<[string, string]>;
  body?: Buffer;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** How it was sent: node:http, or a raw socket because node:http refused the request. */
  via: 'http' | 'socket';
}

const MAX_BODY = 4 * 1024 * 1024;
// A connection per request: a connection the server closed after an early answer (413) is never
// reused, so a reset always means this request was dropped.
const agent = new Agent({ keepAlive: false });

/** Bytes of a string as it goes on the wire: Latin-1 when it fits (so `\xC0` is one byte), else UTF-8. */
export const wire = (s: string) => Buffer.from(s, /^[\u0000-\u00ff]*$/.test(s) ? 'latin1' : 'utf8');

/** Sends one request; node:http first, a raw socket when node:http refuses to send it. */
export async function send(port: number, req: RawRequest, timeoutMs = 15_000): Promise<RawResponse> {
  try {
    return await sendHttp(port, req, timeoutMs);
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (
      !/^ERR_(INVALID_CHAR|UNESCAPED_CHARACTERS|INVALID_HTTP_TOKEN|HTTP_INVALID_HEADER_VALUE|INVALID_ARG_VALUE|INVALID_ARG_TYPE|HTTP_INVALID_STATUS_CODE)$/.test(
        code,
      )
    )
      throw err;
    const head = [`${req.method} ${req.path} HTTP/1.1`, ...req.headers.map(([name, value]) => `${name}: ${value}`)];
    if (!req.headers.some(([name]) => name.toLowerCase() === 'host')) head.push(`Host: 127.0.0.1:${port}`);
    const body = req.body ?? Buffer.alloc(0);
    head.push('Connection: close', req.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`);
    const payload =
      req.chunked && body.length
        ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')])
        : req.chunked
          ? Buffer.from('0\r\n\r\n')
          : body;
    const raw = await sendRaw(port, [Buffer.concat([wire(`${head.join('\r\n')}\r\n\r\n`), payload])], { timeoutMs });
    if (!raw.response)
      throw new Error(`no response on the raw socket (${raw.ended ? 'closed' : 'timed out'})`, { cause: err });
    return { ...raw.response, via: 'socket' };
  }
}

function sendHttp(port: number, req: RawRequest, timeoutMs: number): Promise<RawResponse> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of req.headers) {
    const key = name.toLowerCase();
    const prior = headers[key];
    headers[key] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
  }
  if (req.chunked) headers['transfer-encoding'] = 'chunked';
  return new Promise((resolve, reject) => {
    let answered = false;
    // Throws synchronously for what node:http will not send; the caller falls back to a socket.
    const outgoing = request(
      { host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent, setHost: !('host' in headers) },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_BODY) chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), via: 'http' }),
        );
        res.on('error', reject);
      },
    );
    outgoing.setTimeout(timeoutMs, () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    // The server may answer (413, 415) and close before the whole body is written: that is an
    // answer, and the write error that follows it is not a failure.
    outgoing.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (req.body && req.chunked) {
      outgoing.write(req.body);
      outgoing.end();
    } else {
      outgoing.end(req.body);
    }
  });
}

export interface RawExchange {
  /** The first response on the connection, if one came. */
  response?: Omit<RawResponse, 'via'>;
  /** Status codes of every response received (pipelining). */
  statuses: number[];
  /** The server closed the connection. */
  ended: boolean;
  /** The connection's local port: the server's side of it has this remote port. */
  localPort?: number;
}

/**
 * Writes the given byte pieces to a fresh connection (with a short pause between them), optionally
 * half-closes, and reads what comes back until the server closes, `responses` complete answers
 * came (default 1), or `timeoutMs` passes.
 */
export function sendRaw(
  port: number,
  pieces: Buffer[],
  options: { halfClose?: boolean; timeoutMs?: number; destroyAfterWrite?: boolean; responses?: number } = {},
): Promise<RawExchange> {
  const timeoutMs = options.timeoutMs ?? 3000;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let ended = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseResponses(Buffer.concat(chunks), true), ended, localPort });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (parseResponses(Buffer.concat(chunks), false).statuses.length >= (options.responses ?? 1)) finish();
    });
    socket.on('end', () => {
      ended = true;
      finish();
    });
    socket.on('error', () => {
      ended = true;
      finish();
    });
    let localPort: number | undefined;
    socket.on('connect', async () => {
      localPort = socket.localPort;
      for (const [i, piece] of pieces.entries()) {
        if (socket.destroyed) return;
        socket.write(piece);
        if (i < pieces.length - 1) await new Promise((r) => setTimeout(r, 20));
      }
      if (options.destroyAfterWrite) {
        setTimeout(() => {
          socket.destroy();
          ended = true;
          finish();
        }, 20);
      } else if (options.halfClose) socket.end();
    });
  });
}

/** Parses the complete responses in a byte stream; `final`: the connection ended, so a body delimited by the close is complete. */
function parseResponses(data: Buffer, final: boolean): Omit<RawExchange, 'ended'> {
  const statuses: number[] = [];
  let first: RawExchange['response'];
  let offset = 0;
  while (offset < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', offset);
    if (headEnd < 0) break;
    const lines = data.subarray(offset, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
    if (!status) break;
    const headers: IncomingHttpHeaders = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let cursor = headEnd + 4;
    let body: Buffer;
    if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', cursor);
        if (lineEnd < 0) break;
        const size = parseInt(data.subarray(cursor, lineEnd).toString('latin1'), 16);
        cursor = lineEnd + 2;
        if (!size) {
          cursor += 2;
          complete = true;
          break;
        }
        parts.push(data.subarray(cursor, cursor + size));
        cursor += size + 2;
      }
      if (!complete && !final) break;
      body = Buffer.concat(parts);
    } else {
      const declared = headers['content-length'];
      const bodiless = status === 204 || status === 304 || (status >= 100 && status < 200);
      const length = bodiless ? 0 : Number(declared ?? data.length - cursor);
      // Incomplete so far (or delimited by the close): not counted until the connection ends.
      if (!final && (cursor + length > data.length || (declared === undefined && !bodiless))) break;
      body = data.subarray(cursor, cursor + length);
      cursor += length;
    }
    statuses.push(status);
    first ??= { status, headers, body };
    offset = cursor;
  }
  return { response: first, statuses };
}
