// The CLI's `--url` mode: the same operations as AdminService, through the admin API of a running
// platform (docs/admin-openapi.yaml), with a token from the operator's own client credentials.
import type { AdminService, Json } from '../admin/service.js';
import type { OperatorCredentials } from '../config/operator-credentials.js';
import { PlatformError } from '../errors.js';

/** What the CLI asks of the platform, whichever way it reaches it. */
export type AdminOperations = Pick<
  AdminService,
  | 'addClient'
  | 'listClients'
  | 'showClient'
  | 'updateClient'
  | 'setClientDisabled'
  | 'rotateClientSecret'
  | 'deleteClient'
  | 'replaceClientKeys'
  | 'rotateKeys'
  | 'costs'
  | 'selfcheck'
  | 'verifyAudit'
  | 'addOperator'
  | 'removeOperator'
  | 'listOperators'
  | 'disableAccount'
  | 'enableAccount'
  | 'endSessions'
  | 'securityLog'
  | 'securityEvents'
>;

export class RemoteAdmin implements AdminOperations {
  private token: Promise<string> | undefined;
  private readonly base: URL;

  constructor(
    url: string,
    private readonly credentials: OperatorCredentials,
  ) {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      throw new PlatformError('invalid-input', 400, `--url must be the platform's http(s) address, not ${url}`, {
        errors: [{ field: 'url', code: 'invalid_url' }],
      });
    }
    this.base = new URL(url.endsWith('/') ? url : `${url}/`);
  }

  addClient = (body: unknown) => this.call('POST', 'clients', body);
  listClients = () => this.call('GET', 'clients');
  showClient = (id: unknown) => this.call('GET', `clients/${segment(id)}`);
  updateClient = (id: unknown, body: unknown) => this.call('PATCH', `clients/${segment(id)}`, body);
  setClientDisabled = (id: unknown, disabled: boolean) =>
    this.call('POST', `clients/${segment(id)}/${disabled ? 'disable' : 'enable'}`);
  rotateClientSecret = (id: unknown) => this.call('POST', `clients/${segment(id)}/secret`);
  deleteClient = (id: unknown) => this.call('DELETE', `clients/${segment(id)}`);
  replaceClientKeys = (id: unknown, body: unknown) => this.call('PUT', `clients/${segment(id)}/keys`, body);
  rotateKeys = (body: unknown) => this.call('POST', 'keys/rotate', body ?? {});
  costs = (query: unknown) => {
    const since = (query as { since?: string } | undefined)?.since;
    return this.call('GET', `costs${since === undefined ? '' : `?since=${encodeURIComponent(since)}`}`);
  };
  selfcheck = (body: unknown) => this.call('POST', 'selfcheck', body ?? {});
  verifyAudit = (body: unknown) => this.call('POST', 'audit/verify', body ?? {});
  addOperator = (body: unknown) => this.call('POST', 'operators', body);
  removeOperator = (body: unknown) => this.call('POST', 'operators/remove', body);
  listOperators = () => this.call('GET', 'operators');
  disableAccount = (body: unknown) => this.call('POST', 'accounts/disable', body);
  enableAccount = (body: unknown) => this.call('POST', 'accounts/enable', body);
  endSessions = (body: unknown) => this.call('POST', 'accounts/sessions/end', body);
  securityLog = (body: unknown) => this.call('POST', 'security-log', body ?? {});
  securityEvents = (query: unknown) => {
    const failed = (query as { failed?: string } | undefined)?.failed;
    return this.call('GET', `security-events${failed === undefined ? '' : `?failed=${encodeURIComponent(failed)}`}`);
  };

  private async call(method: string, path: string, body?: unknown): Promise<Json> {
    const response = await fetch(new URL(`api/admin/${path}`, this.base), {
      method,
      headers: {
        authorization: `Bearer ${await (this.token ??= this.obtainToken())}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const answer = (await response.json().catch(() => undefined)) as Json | undefined;
    if (!response.ok) throw problemOf(response.status, answer);
    if (!answer) throw new Error(`the platform answered ${method} ${path} with no JSON`);
    return answer;
  }

  /** RFC 6749 §4.4: a client_credentials token with the scope `admin`, client_secret_basic (§2.3.1). */
  private async obtainToken(): Promise<string> {
    const basic = Buffer.from(
      `${encodeURIComponent(this.credentials.clientId)}:${encodeURIComponent(this.credentials.clientSecret)}`,
    ).toString('base64');
    const response = await fetch(new URL('token', this.base), {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin' }),
    });
    const answer = (await response.json().catch(() => ({}))) as {
      access_token?: string;
      error?: string;
      error_description?: string;
    };
    if (!response.ok || !answer.access_token) {
      throw new PlatformError(
        'operator-credentials-refused',
        401,
        `The platform refused the operator credentials (OPERATOR_CLIENT_ID): ${answer.error ?? response.status}${answer.error_description ? ` (${answer.error_description})` : ''}`,
      );
    }
    return answer.access_token;
  }
}

function segment(id: unknown): string {
  return encodeURIComponent(String(id));
}

/** A problem+json answer as the error the same operation throws on the database itself. */
function problemOf(status: number, problem: Json | undefined): PlatformError {
  const code = typeof problem?.title === 'string' ? problem.title : 'http-error';
  const detail = typeof problem?.detail === 'string' ? problem.detail : `The platform answered ${status}.`;
  const errors = Array.isArray(problem?.errors)
    ? (problem.errors as Array<{ field: string; code: string; message?: string }>)
    : undefined;
  return new PlatformError(code, status, detail, { ...(errors ? { errors } : {}), expose: true });
}
