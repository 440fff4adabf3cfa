import type { AccountService } from '../accounts/service.js';
import type { AuditLog } from '../audit/log.js';
import type { GrantService } from '../grants/service.js';
import type { IdentityExport, VerificationService } from '../identity/service.js';
import type { PasskeyService } from '../passkeys/service.js';
import type { AccountSessions, SecurityLog } from '../security/service.js';
import { NotFound } from '../errors.js';

// A person's rights over their data (PIPL Art. 45, GDPR Art. 15 and 20): a copy of everything the
// platform holds about them, in one JSON document, with every audit event that concerns them and
// its leaf index, so each can be proven against a signed tree head.

/** Audit events fetched per query while gathering a person's events. */
const PAGE = 1000;

export interface PersonalDataOptions {
  accounts: AccountService;
  verifications: VerificationService;
  grants: GrantService;
  passkeys: PasskeyService;
  securityLog: SecurityLog;
  sessions: AccountSessions;
  audit: AuditLog;
}

/** One audit event as the export carries it: its leaf index and the exact leaf that was hashed. */
export interface ExportedEvent {
  leaf_index: number;
  /** The canonical JSON text hashed into the tree (RFC 6962 leaf), to check a proof against. */
  leaf: string;
  event: {
    time: string;
    type: string;
    actor: { type: string; id?: string };
    subjects: Record<string, string>;
    payload: Record<string, unknown>;
  };
}

/** The export: `format` and `version` name this shape (docs/product.md#your-data). */
export interface PersonalDataExport {
  format: 'realname-platform.personal-data';
  version: 1;
  exported_at: string;
  account: { id: string; login: string; login_type: 'email' | 'phone'; created_at: string };
  identity: IdentityExport;
  grants: Array<{
    grant_id: string;
    client_id: string;
    merchant: string;
    level: string | undefined;
    scopes: string[];
    granted_at: string;
    /** Each consent and revocation of this merchant's grants, from the audit trail. */
    level_history: Array<{ time: string; type: string; from_level?: string; level?: string; leaf_index: number }>;
    releases: Array<{ time: string; via?: string; claims: string[] }>;
  }>;
  passkeys: Array<{ name: string; created_at: string; last_used_at: string | null; synced: boolean }>;
  sessions: Array<{ device?: string; ip?: string; amr: string[]; signed_in_at: string; last_used_at: string }>;
  security_log: Array<{ time: string; kind: string; ip?: string; device?: string; detail?: Record<string, unknown> }>;
  /** Every event of the audit trail about the account or its person, in leaf order. */
  audit_events: ExportedEvent[];
}

export class PersonalData {
  constructor(private readonly options: PersonalDataOptions) {}

  /**
   * Everything the platform holds about the account, opened; NotFound when there is no such
   * account. The export is audited (`account.data_exported`, with the format it is given in)
   * once it was built, before it is handed over.
   */
  async export(
    accountId: string,
    format: 'json' | 'html',
    merchantOf: (clientId: string) => Promise<{ name: string; levels: string[] } | undefined>,
  ): Promise<PersonalDataExport> {
    const data = await this.gather(accountId, merchantOf);
    await this.options.audit.record({
      type: 'account.data_exported',
      actor: { type: 'account', id: accountId },
      subjects: {
        account: accountId,
        ...(data.identity.person ? { person: data.identity.person.person_index } : {}),
      },
      payload: { format },
    });
    return data;
  }

  private async gather(
    accountId: string,
    merchantOf: (clientId: string) => Promise<{ name: string; levels: string[] } | undefined>,
  ): Promise<PersonalDataExport> {
    const { accounts, verifications, grants, passkeys, securityLog, sessions } = this.options;
    const account = await accounts.find(accountId);
    if (!account) throw new NotFound('There is no such account.');
    const identity = await verifications.exportOf(accountId);
    const events = await this.eventsAbout(accountId, identity.person?.person_index);
    const held = await grants.grantsOf(accountId, merchantOf);
    return {
      format: 'realname-platform.personal-data',
      version: 1,
      exported_at: new Date().toISOString(),
      account: {
        id: account.id,
        login: account.login,
        login_type: account.loginType,
        created_at: account.createdAt.toISOString(),
      },
      identity,
      grants: held.map((grant) => ({
        grant_id: grant.id,
        client_id: grant.clientId,
        merchant: grant.merchant,
        level: grant.level,
        scopes: grant.scopes,
        granted_at: grant.grantedAt.toISOString(),
        level_history: events
          .filter(
            ({ event }) =>
              event.subjects.client === grant.clientId && ['consent.granted', 'consent.revoked'].includes(event.type),
          )
          .map(({ leaf_index, event }) => ({
            time: event.time,
            type: event.type,
            ...(typeof event.payload.from_level === 'string' ? { from_level: event.payload.from_level } : {}),
            ...(typeof event.payload.level === 'string' ? { level: event.payload.level } : {}),
            leaf_index,
          })),
        releases: grant.releases.map((release) => ({
          time: release.time.toISOString(),
          ...(release.via ? { via: release.via } : {}),
          claims: release.claims,
        })),
      })),
      passkeys: (await passkeys.list(accountId)).map((passkey) => ({
        name: passkey.name,
        created_at: passkey.createdAt.toISOString(),
        last_used_at: passkey.lastUsedAt?.toISOString() ?? null,
        synced: passkey.synced,
      })),
      sessions: (await sessions.list(accountId)).map((session) => ({
        ...(session.device ? { device: session.device } : {}),
        ...(session.ip ? { ip: session.ip } : {}),
        amr: session.amr,
        signed_in_at: session.signedInAt.toISOString(),
        last_used_at: session.lastUsedAt.toISOString(),
      })),
      security_log: (await securityLog.recent(accountId, 100_000)).map((entry) => ({
        time: entry.at.toISOString(),
        kind: entry.kind,
        ...(entry.ip ? { ip: entry.ip } : {}),
        ...(entry.device ? { device: entry.device } : {}),
        ...(entry.detail ? { detail: entry.detail } : {}),
      })),
      audit_events: events,
    };
  }

  /** Every audit event naming the account or the person, in leaf order, the queue integrated first. */
  private async eventsAbout(accountId: string, personIndex: string | undefined): Promise<ExportedEvent[]> {
    const { audit } = this.options;
    await audit.integrateAll();
    const byLeaf = new Map<number, ExportedEvent>();
    for (const filter of [{ account: accountId }, ...(personIndex ? [{ person: personIndex }] : [])]) {
      for (let after: number | undefined; ;) {
        const rows = await audit.search({ ...filter, ...(after !== undefined ? { after } : {}) }, PAGE);
        for (const row of rows) {
          const leaf = JSON.parse(row.leaf) as ExportedEvent['event'] & { leaf_index: number; v: number };
          const { time, type, actor, subjects, payload } = leaf;
          byLeaf.set(row.leaf_index, {
            leaf_index: row.leaf_index,
            leaf: row.leaf,
            event: { time, type, actor, subjects, payload },
          });
        }
        if (rows.length < PAGE) break;
        after = rows.at(-1)!.leaf_index;
      }
    }
    return [...byLeaf.values()].sort((a, b) => a.leaf_index - b.leaf_index);
  }
}
