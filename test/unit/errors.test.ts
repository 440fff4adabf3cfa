import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Koa from 'koa';
import { pino } from 'pino';
import { Conflict, InvalidInput, NotFound, PlatformError, Unauthorized } from '../../src/errors.js';
import { errorHandler } from '../../src/http/errors.js';
import { Views } from '../../src/http/views.js';

describe('PlatformError', () => {
  it('carries code, status, message and an RFC 9457 problem type', () => {
    const error = new PlatformError('wrong-step', 400, 'Already done.');
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: 'PlatformError',
      code: 'wrong-step',
      status: 400,
      message: 'Already done.',
      type: 'urn:realname:problem:wrong-step',
    });
  });

  it('exposes details of client errors but not of server errors, unless told otherwise', () => {
    expect(new PlatformError('x', 499, 'm').expose).toBe(true);
    expect(new PlatformError('x', 500, 'm').expose).toBe(false);
    expect(new PlatformError('x', 400, 'm', { expose: false }).expose).toBe(false);
    expect(new PlatformError('x', 503, 'm', { expose: true }).expose).toBe(true);
  });

  it.each([
    [new InvalidInput([{ field: 'login', code: 'login_invalid' }]), 'invalid-input', 400],
    [new NotFound(), 'not-found', 404],
    [new Conflict('login-taken', 'Taken.'), 'login-taken', 409],
    [new Unauthorized('invalid-credentials', 'Wrong.'), 'invalid-credentials', 401],
  ])('%s has code %s and status %i', (error, code, status) => {
    expect(error).toBeInstanceOf(PlatformError);
    expect(error).toMatchObject({ code, status, type: `urn:realname:problem:${code}`, expose: true });
  });

  it('keeps the field errors of InvalidInput', () => {
    const errors = [{ field: 'password', code: 'password_too_short', message: 'too short' }];
    expect(new InvalidInput(errors).extra.errors).toEqual(errors);
    expect(new InvalidInput(errors).message).toBe('The request has invalid fields.');
  });
});

describe('errorHandler problem+json', () => {
  let server: ReturnType<Koa['listen']>;
  let base: string;

  beforeAll(async () => {
    const app = new Koa();
    app.use(errorHandler(new Views(resolve(process.cwd(), 'views')), pino({ level: 'silent' })));
    app.use((ctx) => {
      if (ctx.path === '/api/invalid')
        throw new InvalidInput([{ field: 'login', code: 'login_invalid', message: 'bad login' }]);
      if (ctx.path === '/api/conflict') throw new Conflict('login-taken', 'An account with this login already exists.');
      if (ctx.path === '/api/crash') throw new Error('database password is hunter2');
      if (ctx.path === '/api/http') ctx.throw(413, 'request entity too large');
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((done) => server.once('listening', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((done) => server.close(done));
  });

  const problem = async (path: string) => {
    const response = await fetch(`${base}${path}`);
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      body: (await response.json()) as Record<string, unknown>,
    };
  };

  it('renders a PlatformError with type, title, status, detail and field errors', async () => {
    expect(await problem('/api/invalid')).toEqual({
      status: 400,
      type: expect.stringMatching(/^application\/problem\+json/),
      body: {
        type: 'urn:realname:problem:invalid-input',
        title: 'invalid-input',
        status: 400,
        detail: 'The request has invalid fields.',
        errors: [{ field: 'login', code: 'login_invalid', message: 'bad login' }],
      },
    });
  });

  it('omits errors when there are none', async () => {
    expect((await problem('/api/conflict')).body).toEqual({
      type: 'urn:realname:problem:login-taken',
      title: 'login-taken',
      status: 409,
      detail: 'An account with this login already exists.',
    });
  });

  it('hides the details of unexpected errors', async () => {
    const { status, body } = await problem('/api/crash');
    expect(status).toBe(500);
    expect(body).toEqual({ type: 'urn:realname:problem:internal-error', title: 'internal-error', status: 500 });
    expect(JSON.stringify(body)).not.toContain('hunter2');
  });

  it('maps Koa HTTP errors to problem types', async () => {
    expect((await problem('/api/http')).body).toMatchObject({
      type: 'urn:realname:problem:payload-too-large',
      status: 413,
    });
  });

  it('turns an unhandled route into not-found', async () => {
    expect(await problem('/api/nothing-here')).toMatchObject({
      status: 404,
      body: { type: 'urn:realname:problem:not-found', status: 404 },
    });
  });
});
