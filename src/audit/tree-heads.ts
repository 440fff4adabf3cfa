import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CompactSign, type JWK } from 'jose';
import type { Db } from '../db/index.js';
import { PlatformError } from '../errors.js';
import { repeat } from '../repeat.js';
import type { KeyService, KeySpec } from '../keys/service.js';
import { checkpointBody, signNote, verifierKey } from './checkpoint.js';
import type { KeptHead, KeptTreeHeads } from './kept-heads.js';
import type { AuditLog } from './log.js';
import { toSignedTreeHead, treeHeadPayload, type SignedTreeHead } from './signed-tree-head.js';
import { findTreeHead, insertTreeHead, latestTreeHead } from './store.js';
import { verifyTreeHead } from './verify.js';

/** The key that signs tree heads (Ed25519), published at /api/notary/keys. */
export const AUDIT_TREE_HEAD_KEY: KeySpec = { purpose: 'audit-tree-head', alg: 'EdDSA' };

/**
 * The log in the database contradicts a tree head kept outside it: leaves were rewritten or
 * removed behind the triggers. Signing now would vouch for the rewritten history with the real
 * key, so nothing is signed until an operator has looked (`audit verify` names what differs).
 */
export class TreeHeadRefused extends PlatformError {
  constructor(message: string) {
    super('audit-tree-head-refused', 503, message, { expose: true });
    this.name = 'TreeHeadRefused';
  }
}

export interface TreeHeadsOptions {
  db: Db;
  audit: AuditLog;
  /** Checkpoint origin: the log's name, e.g. `rn.example.com/audit`. */
  origin: string;
  /** Where signed heads are appended as they are made; none: kept in the database only. */
  kept?: KeptTreeHeads;
}

interface Signer {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * Signs and keeps tree heads. A head is made when the log has grown since the last one, at most
 * once per `interval` from the scheduler, so under load there is a new head every few seconds and
 * after a quiet period the last leaves are covered too. Several processes may sign the same size;
 * the first head stored for a size is kept.
 */
export class TreeHeads {
  /** The largest head kept outside the database, once read (heads are appended by this process after). */
  private lastKept: KeptHead | undefined;
  private keptLoaded = false;

  private readonly db: Db;
  private readonly audit: AuditLog;
  readonly origin: string;
  readonly kept: KeptTreeHeads | undefined;

  private constructor(
    options: TreeHeadsOptions,
    private signer: Signer,
    /** Every tree-head public key ever made, to check the kept heads' signatures. */
    private publicKeys: JWK[],
  ) {
    ({ db: this.db, audit: this.audit, origin: this.origin, kept: this.kept } = options);
  }

  /** Tree heads signed with the active `audit-tree-head` key of `keys`. */
  static async load(options: TreeHeadsOptions & { keys: KeyService }): Promise<TreeHeads> {
    const { signer, publicKeys } = await loadSigner(options.keys);
    return new TreeHeads(options, signer, publicKeys);
  }

  /** Signs with the active key from now on (after `keys rotate --purpose audit-tree-head`, src/oidc/live-settings.ts). */
  async reloadKeys(keys: KeyService): Promise<void> {
    ({ signer: this.signer, publicKeys: this.publicKeys } = await loadSigner(keys));
  }

  /** The C2SP verifier key (`<origin>+<hash>+<key>`) of each Ed25519 tree-head key. */
  verifierKeys(jwks: JWK[]): string[] {
    return jwks.map((jwk) =>
      verifierKey(this.origin, createPublicKey({ key: jwk as JWK & { kty: string }, format: 'jwk' })),
    );
  }

  /**
   * Signs a head over the current tree, every event committed so far integrated, if it grew since
   * the latest head; returns the latest.
   */
  async publish(): Promise<SignedTreeHead> {
    await this.audit.integrateAll();
    await this.checkKept();
    const latest = await latestTreeHead(this.db);
    const size = await this.audit.size();
    if (latest && Number(latest.tree_size) >= size) return this.keep(toSignedTreeHead(latest));
    const root = await this.audit.rootAt(size);
    const head = { tree_size: size, root_hash: root.toString('hex'), timestamp: Date.now() };
    const signature = await this.sign(treeHeadPayload(head), 'tree-head+json');
    const checkpoint = signNote(checkpointBody(this.origin, size, root, [`timestamp ${head.timestamp}`]), {
      name: this.origin,
      privateKey: this.signer.privateKey,
    });
    await insertTreeHead(this.db, {
      tree_size: size,
      root_hash: root,
      timestamp: head.timestamp,
      kid: this.signer.kid,
      signature,
      checkpoint,
    });
    // Another process may have stored its head for this size first: that one is kept and served.
    return this.keep(toSignedTreeHead((await findTreeHead(this.db, size))!));
  }

  /**
   * Refuses (TreeHeadRefused) when the log contradicts the largest head kept outside the
   * database: fewer leaves than it covers, or another root at its size (RFC 9162 §2.1.4: a tree
   * extends its past trees, so the root at a kept size never changes). Run before each signing
   * and once at start.
   */
  async checkKept(): Promise<void> {
    const kept = await this.latestKept();
    if (!kept) return;
    const { head, source } = kept;
    if (!(await verifyTreeHead(head, { keys: this.publicKeys }))) {
      throw new TreeHeadRefused(
        `the tree head of size ${head.tree_size} kept in ${source} is not signed by this platform's tree-head keys`,
      );
    }
    const size = await this.audit.size();
    if (size < head.tree_size) {
      throw new TreeHeadRefused(
        `the audit log has ${size} leaves, fewer than the ${head.tree_size} of the tree head kept in ${source}: leaves were removed; run \`audit verify\``,
      );
    }
    const root = (await this.audit.rootAt(head.tree_size)).toString('hex');
    if (root !== head.root_hash) {
      throw new TreeHeadRefused(
        `the audit log contradicts the tree head of size ${head.tree_size} kept in ${source} (root ${head.root_hash}, the log now gives ${root}): history was rewritten; run \`audit verify\``,
      );
    }
  }

  /** Appends a head to the kept heads if it is larger than the last one kept; returns it. */
  private async keep(head: SignedTreeHead): Promise<SignedTreeHead> {
    if (!this.kept) return head;
    const last = await this.latestKept();
    if (last && last.head.tree_size >= head.tree_size) return head;
    await this.kept.append(head);
    this.lastKept = { head, source: this.kept.dir };
    return head;
  }

  private async latestKept(): Promise<KeptHead | undefined> {
    if (!this.kept) return undefined;
    if (!this.keptLoaded) {
      this.lastKept = await this.kept.latest();
      this.keptLoaded = true;
    }
    return this.lastKept;
  }

  /** A compact JWS (EdDSA) by the tree-head key over exactly `payload`. */
  async sign(payload: string, typ: string): Promise<string> {
    return new CompactSign(new TextEncoder().encode(payload))
      .setProtectedHeader({ alg: 'EdDSA', kid: this.signer.kid, typ })
      .sign(this.signer.privateKey);
  }

  /**
   * The newest signed head. A new one is signed only when the newest is older than `maxAge` ms
   * (and the log grew), or does not cover `covering` leaves: reads do not sign a head each.
   */
  async latest(options: { maxAge: number; covering?: number }): Promise<SignedTreeHead> {
    const latest = await latestTreeHead(this.db);
    const fresh = latest && Date.now() - Number(latest.timestamp) < options.maxAge;
    const covers = latest && Number(latest.tree_size) >= (options.covering ?? 0);
    return fresh && covers ? toSignedTreeHead(latest) : this.publish();
  }

  /** Signs new heads every `intervalMs` while the log grows; returns a stop function. */
  schedule(intervalMs: number, onError: (err: unknown) => void): () => Promise<void> {
    return repeat(() => this.publish(), intervalMs, onError);
  }
}

/** The active tree-head key, and every public one ever made. */
async function loadSigner(keys: KeyService): Promise<{ signer: Signer; publicKeys: JWK[] }> {
  const [jwk] = await keys.privateJwks(AUDIT_TREE_HEAD_KEY.purpose);
  if (!jwk?.kid) throw new Error('no audit tree-head key: run KeyService.ensure first');
  const privateKey = createPrivateKey({ key: jwk as JWK & { kty: string }, format: 'jwk' });
  const publicKeys = await keys.publicJwksEver(AUDIT_TREE_HEAD_KEY.purpose);
  return { signer: { kid: jwk.kid, privateKey, publicKey: createPublicKey(privateKey) }, publicKeys };
}
