import { resolve } from 'node:path';
import { decodeJwt, type JSONWebKeySet } from 'jose';
import { checkLog } from '../audit/check.js';
import { KeptTreeHeads, parseKeptHeads, type ParsedHeads } from '../audit/kept-heads.js';
import type { AccountDisabling } from '../accounts/disabling.js';
import type { AuditLog } from '../audit/log.js';
import { AUDIT_TREE_HEAD_KEY } from '../audit/tree-heads.js';
import type { ClientService, NewClient } from '../clients/service.js';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { Conflict } from '../errors.js';
import { costReport, costsByDay, providerFailures, selfCheck } from '../identity/selfcheck.js';
import type { VerificationService } from '../identity/service.js';
import { COOKIE_KEY, OIDC_SIGNING, type KeyService, type KeySpec } from '../keys/service.js';
import type { Outbox } from '../notifications/service.js';
import type { OperatorActor, OperatorService } from '../operators/service.js';
import { parseInput } from '../validation.js';
import {
  auditVerifyBody,
  clientAddBody,
  clientIdParam,
  clientKeysBody,
  clientUpdateBody,
  costsQuery,
  keysRotateBody,
  accountDisableBody,
  operatorBody,
  type ROTATABLE_PURPOSES,
  securityEventsQuery,
  securityLogBody,
  selfcheckBody,
} from './schemas.js';
import type { AccountSessions, SecurityLog } from '../security/service.js';

/** A result as it crosses the API: plain JSON (dates as ISO text), the same with or without `--url`. */
export type Json = Record<string, unknown>;

const ROTATE: Record<(typeof ROTATABLE_PURPOSES)[number], KeySpec[]> = {
  'oidc-signing': OIDC_SIGNING,
  cookie: [COOKIE_KEY],
  'audit-tree-head': [AUDIT_TREE_HEAD_KEY],
};

export interface AdminDeps {
  db: Db;
  audit: AuditLog;
  clients: ClientService;
  keys: KeyService;
  outbox: Outbox;
  operators: OperatorService;
  verifications: VerificationService;
  disabling: AccountDisabling;
  sessions: AccountSessions;
  securityLog: SecurityLog;
  /** Seconds a rotated-out key stays published and accepted (`retiredKeyLifetime`). */
  retiredKeyLifetime: number;
  /** Where the platform keeps its signed tree heads (`audit.headsDir`), if anywhere. */
  headsDir: string;
  notificationChannel: 'log' | 'email';
}

/**
 * What an operator does to the platform, whether through the admin API (src/admin/routes/), the
 * console at /admin, or the CLI on the database itself: each operation validates its input here,
 * once, and every change writes its audit event in the transaction that makes it. Results are
 * plain JSON, so the CLI prints the same with and without `--url`.
 */
export class AdminService {
  constructor(private readonly deps: AdminDeps) {}

  async addClient(body: unknown, actor: OperatorActor): Promise<Json> {
    const input = parseInput(body, clientAddBody);
    const added = await this.deps.clients.add(
      {
        name: input.name,
        kind: input.kind as NewClient['kind'],
        redirectUris: input.redirect_uris,
        postLogoutRedirectUris: input.post_logout_redirect_uris,
        levels: input.levels as NewClient['levels'],
        category: input.category,
        securityLevel: input.security_level as number | undefined,
        resultMaxAgeDays: input.result_max_age_days as number | undefined,
        resultMaxQueries: input.result_max_queries as number | undefined,
        requirePasskey: input.require_passkey,
        eventsEndpoint: input.events_endpoint,
        backchannelLogoutUri: input.backchannel_logout_uri,
        profile: input.profile as NewClient['profile'],
        jwks: input.jwks,
        jwksUri: input.jwks_uri,
        idTokenSigningAlg: input.id_token_alg as NewClient['idTokenSigningAlg'],
        userinfoSigningAlg: input.userinfo_alg as NewClient['userinfoSigningAlg'],
        userinfoEncryption: input.userinfo_encryption as NewClient['userinfoEncryption'],
        idTokenEncryption: input.id_token_encryption as NewClient['idTokenEncryption'],
      },
      { actor },
    );
    return plain(added);
  }

  async listClients(): Promise<Json> {
    return plain({ clients: await this.deps.clients.list() });
  }

  async showClient(clientId: unknown): Promise<Json> {
    return plain(await this.deps.clients.show(parseInput(clientId, clientIdParam)));
  }

  async updateClient(clientId: unknown, body: unknown, actor: OperatorActor): Promise<Json> {
    const input = parseInput(body, clientUpdateBody);
    const updated = await this.deps.clients.update(
      parseInput(clientId, clientIdParam),
      {
        name: input.name,
        redirectUris: input.redirect_uris,
        levels: input.levels as never,
        category: input.category,
        securityLevel: input.security_level as number | undefined,
      },
      actor,
    );
    return plain(updated);
  }

  async setClientDisabled(clientId: unknown, disabled: boolean, actor: OperatorActor): Promise<Json> {
    return plain(await this.deps.clients.setDisabled(parseInput(clientId, clientIdParam), disabled, actor));
  }

  async rotateClientSecret(clientId: unknown, actor: OperatorActor): Promise<Json> {
    return plain(await this.deps.clients.rotateSecret(parseInput(clientId, clientIdParam), actor));
  }

  async deleteClient(clientId: unknown, actor: OperatorActor): Promise<Json> {
    return plain(await this.deps.clients.delete(parseInput(clientId, clientIdParam), actor));
  }

  async replaceClientKeys(clientId: unknown, body: unknown, actor: OperatorActor): Promise<Json> {
    const input = parseInput(body, clientKeysBody);
    const updated = await this.deps.clients.replaceKeys(
      parseInput(clientId, clientIdParam),
      { jwks: input.jwks, jwksUri: input.jwks_uri },
      actor,
    );
    return plain({ client_id: updated.client_id, jwks_uri: updated.jwks_uri, jwks_keys: updated.jwks_keys });
  }

  /**
   * New active keys of a purpose, the old ones retired (still published and accepted for
   * `retiredKeyLifetime`), with a `keys.rotated` event in the same transaction. Every running
   * process notices the new generation and loads the keys (src/keys/reload.ts).
   */
  async rotateKeys(body: unknown, actor: OperatorActor): Promise<Json> {
    const { purpose } = parseInput(body ?? {}, keysRotateBody);
    const { db, keys, audit, retiredKeyLifetime } = this.deps;
    const rotated = await inTransaction(db, async (tx) => {
      const made = [];
      for (const spec of ROTATE[purpose]) {
        const { kid, retired } = await keys.rotate(spec, retiredKeyLifetime);
        made.push({ purpose: spec.purpose, alg: spec.alg, kid, retired });
      }
      await audit.append(tx, {
        type: 'keys.rotated',
        actor,
        payload: { purpose, kids: made.map((r) => r.kid), retired: made.reduce((n, r) => n + r.retired, 0) },
      });
      return made;
    });
    const until = new Date(Date.now() + retiredKeyLifetime * 1000).toISOString();
    return { rotated, retired_keys_valid_until: until };
  }

  async costs(query: unknown): Promise<Json> {
    const { since } = parseInput(query ?? {}, costsQuery);
    return plain(await costReport(this.deps.db, since ? new Date(`${since}T00:00:00Z`) : undefined));
  }

  /**
   * The self-check (docs/verification.md#reminders): reminders queued with their
   * `reminders.queued` event in one transaction; with `deliver`, the due ones sent afterwards.
   */
  async selfcheck(body: unknown, actor: OperatorActor): Promise<Json> {
    const input = parseInput(body ?? {}, selfcheckBody);
    const { db, outbox, audit } = this.deps;
    const report = await inTransaction(db, async (tx) => {
      const made = await selfCheck(db, outbox, {
        channel: this.deps.notificationChannel,
        expiringWithinDays: input.expiring_within_days,
        locale: 'zh-CN',
      });
      await audit.append(tx, {
        type: 'reminders.queued',
        actor,
        payload: { checked: made.checked, queued: made.queued },
      });
      return made;
    });
    const delivery = input.deliver ? await outbox.deliver() : undefined;
    return plain({ ...report, ...(delivery ? { delivery } : {}) });
  }

  /**
   * Recomputes the whole audit tree and checks every signed head stored in the database, every
   * head kept in `audit.headsDir`, and the copies sent along (a notary's); records the outcome
   * (`audit.verified`) for the console's "last full verification".
   */
  async verifyAudit(body: unknown, actor: OperatorActor): Promise<Json> {
    return verifyWholeLog(this.deps, body, actor);
  }

  /**
   * What the console's front page shows: verification and cost figures of the last `days` days
   * (totals by provider and method, and per day for the chart), provider health (each provider's
   * circuit in this process, the latest calls that got no answer), the audit log's state (size,
   * queue, latest signed head, last full verification) and the reminders queued and sent.
   */
  async dashboard(days = 30): Promise<Json> {
    const { db, audit, outbox, verifications } = this.deps;
    const since = new Date(Date.now() - days * 86_400_000);
    since.setUTCHours(0, 0, 0, 0);
    const [costs, daily, failures, size, queued, head, verified, reminders] = await Promise.all([
      costReport(db, since),
      costsByDay(db, since),
      providerFailures(db, 20),
      audit.size(),
      audit.queued(),
      audit.latestHead(),
      audit.latestOfType('audit.verified'),
      outbox.templateCounts(['verification.missing', 'verification.failed', 'verification.expiring'], since),
    ]);
    const lastVerification = verified && (JSON.parse(verified.leaf) as { time: string; payload: Json });
    return plain({
      days,
      since: since.toISOString(),
      costs,
      daily,
      providers: verifications.providerHealth(),
      failures,
      audit: {
        size,
        queued,
        latest_head: head
          ? { tree_size: Number(head.tree_size), timestamp: Number(head.timestamp), kid: head.kid }
          : null,
        last_verification: lastVerification ? { time: lastVerification.time, ...lastVerification.payload } : null,
      },
      reminders,
    });
  }

  /**
   * Disables an account (OWASP ASVS 5.0 §7.4.2): its sessions and tokens end, its sign-ins are
   * refused until enabled; audited as `account.disabled`. `login` is for the CLI's readable line.
   */
  async disableAccount(body: unknown, actor: OperatorActor): Promise<Json> {
    const { login, reason } = parseInput(body, accountDisableBody);
    const account = await this.deps.operators.accountOf(login);
    const outcome = await this.deps.disabling.disable(account.id, reason, actor);
    return outcome.disabled
      ? {
          account: account.id,
          login: account.login,
          disabled: true,
          changed: true,
          sessions_ended: outcome.sessionsEnded,
          tokens_revoked: outcome.tokensRevoked,
        }
      : { account: account.id, login: account.login, disabled: true, changed: false };
  }

  async enableAccount(body: unknown, actor: OperatorActor): Promise<Json> {
    const account = await this.deps.operators.accountOf(parseInput(body, operatorBody).login);
    const changed = await this.deps.disabling.enable(account.id, actor);
    return { account: account.id, login: account.login, disabled: false, changed };
  }

  /** Signs an account out everywhere (OWASP ASVS 5.0 §7.4.5), recorded in its security log. */
  async endSessions(body: unknown): Promise<Json> {
    const account = await this.deps.operators.accountOf(parseInput(body, operatorBody).login);
    const ended = await this.deps.sessions.endAll(account.id);
    return { account: account.id, login: account.login, sessions_ended: ended };
  }

  /** The security log, oldest first, of one account or all; the last 7 days by default. */
  async securityLog(body: unknown): Promise<Json> {
    const input = parseInput(body ?? {}, securityLogBody);
    const account = input.login === undefined ? undefined : await this.deps.operators.accountOf(input.login);
    const since = input.since ? new Date(`${input.since}T00:00:00Z`) : new Date(Date.now() - 7 * 86_400_000);
    const events = await this.deps.securityLog.since({ since, accountId: account?.id }, 10_000);
    return plain({ since: since.toISOString(), ...(account ? { login: account.login } : {}), events });
  }

  /** The latest Security Event Tokens to merchants, newest first (`failed`: only those given up on). */
  async securityEvents(query: unknown): Promise<Json> {
    const failed = parseInput(query ?? {}, securityEventsQuery).failed === 'true';
    const deliveries = await this.deps.outbox.securityEvents({ failed }, 200);
    const events = deliveries.map(({ token, ...delivery }) => {
      const claims = token ? decodeJwt(token) : {};
      return {
        ...delivery,
        jti: claims.jti,
        events: Object.keys((claims.events as Record<string, unknown> | undefined) ?? {}),
      };
    });
    return plain({ events });
  }

  async addOperator(body: unknown, actor: OperatorActor): Promise<Json> {
    return plain(await this.deps.operators.add(parseInput(body, operatorBody).login, actor));
  }

  async removeOperator(body: unknown, actor: OperatorActor): Promise<Json> {
    return plain(await this.deps.operators.remove(parseInput(body, operatorBody).login, actor));
  }

  async listOperators(): Promise<Json> {
    return plain({ operators: await this.deps.operators.list() });
  }

  /**
   * New API credentials for an operator (`operator credentials LOGIN`): a client of kind
   * `operator` bound to the account, client_credentials with the scope `admin`. The CLI only: a
   * token cannot mint itself more credentials.
   */
  async issueOperatorCredentials(body: unknown, actor: OperatorActor): Promise<Json> {
    const { login } = parseInput(body, operatorBody);
    const account = await this.deps.operators.accountOf(login);
    if (!(await this.deps.operators.isActive(account.id))) {
      throw new Conflict(
        'not-an-operator',
        `${account.login} is not an active operator: run operator add ${account.login} first.`,
      );
    }
    return plain(await this.deps.clients.addOperatorClient(account.id, account.login, actor));
  }
}

/**
 * Recomputes the whole audit tree and checks every signed head stored in the database, every
 * head kept in `audit.headsDir`, and the copies sent along (a notary's); records the outcome
 * (`audit.verified`) for the console's "last full verification". Needs no master key: the CLI
 * runs it on a database whose keys it cannot open.
 */
export async function verifyWholeLog(
  deps: Pick<AdminDeps, 'db' | 'audit' | 'headsDir'>,
  body: unknown,
  actor: OperatorActor,
): Promise<Json> {
  const input = parseInput(body ?? {}, auditVerifyBody);
  const kept: ParsedHeads = { heads: [], problems: [] };
  const add = (parsed: ParsedHeads) => {
    kept.heads.push(...parsed.heads);
    kept.problems.push(...parsed.problems);
  };
  if (deps.headsDir.trim()) add(await new KeptTreeHeads(resolve(deps.headsDir)).all());
  for (const { source, text } of input.heads) add(parseKeptHeads(text, source));
  const report = await checkLog(deps.db, {
    kept: kept.heads,
    keptProblems: kept.problems,
    trustedKeys: input.keys as JSONWebKeySet | undefined,
  });
  await deps.audit.record({
    type: 'audit.verified',
    actor,
    payload: { ok: report.ok, leaves: report.leaves, heads: report.heads, kept_heads: report.kept_heads },
  });
  return plain(report);
}

function plain(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}
