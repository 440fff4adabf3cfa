import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { canonicalJson } from './log.js';
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
import { treeHeadPayload, type SignedTreeHead } from './signed-tree-head.js';

/**
 * Offline verification of what the notary API hands out: signed tree heads, inclusion and
 * consistency proofs, evidence bundles. Needs no database and nothing from the platform but
 * its published tree-head keys (GET /api/notary/keys), which a notary should fetch and keep
 * beforehand rather than trust the copy inside a bundle.
 */

export const EVIDENCE_FORMAT = 'realname-audit-evidence/1';

export interface EvidenceEvent {
  leaf_index: number;
  /** The exact canonical JSON text that was hashed into the tree. */
  leaf: string;
  /** Inclusion proof (hex) of this leaf in the bundle's tree head. */
  audit_path: string[];
}

export interface EvidenceBundle {
  format: typeof EVIDENCE_FORMAT;
  issuer: string;
  issued_at: number;
  tree_head: SignedTreeHead;
  /** The tree-head keys (JWKS) by which `tree_head` and `signature` were signed. */
  keys: JSONWebKeySet;
  events: EvidenceEvent[];
  /** Compact JWS over the canonical JSON of every other member of the bundle. */
  signature: string;
}

export interface VerificationReport {
  ok: boolean;
  /** What was checked and held, in order. */
  checks: string[];
  /** What failed; empty when ok. */
  errors: string[];
}

const HEX = /^[0-9a-f]*$/;

function hex(value: unknown, bytes?: number): Buffer | undefined {
  if (typeof value !== 'string' || !HEX.test(value) || value.length % 2) return undefined;
  const buffer = Buffer.from(value, 'hex');
  return bytes === undefined || buffer.length === bytes ? buffer : undefined;
}

/** Checks a JWS over exactly `payload` with one of `keys`; false on any failure. */
async function signedOver(jws: unknown, payload: string, keys: JSONWebKeySet): Promise<boolean> {
  if (typeof jws !== 'string') return false;
  try {
    const { payload: signed } = await compactVerify(jws, createLocalJWKSet(keys), { algorithms: ['EdDSA'] });
    return new TextDecoder().decode(signed) === payload;
  } catch {
    return false;
  }
}

/** Checks a signed tree head's signature with the published keys. */
export async function verifyTreeHead(head: SignedTreeHead, keys: JSONWebKeySet): Promise<boolean> {
  if (
    !Number.isSafeInteger(head?.tree_size) ||
    head.tree_size < 0 ||
    !hex(head.root_hash, 32) ||
    !Number.isSafeInteger(head.timestamp)
  ) {
    return false;
  }
  return signedOver(head.signature, treeHeadPayload(head), keys);
}

/** Checks that a leaf (its canonical text) is in the tree of a tree head. */
export function verifyLeafInclusion(
  leaf: string,
  leafIndex: number,
  head: Pick<SignedTreeHead, 'tree_size' | 'root_hash'>,
  auditPath: string[],
): boolean {
  const root = hex(head.root_hash, 32);
  const path = Array.isArray(auditPath) ? auditPath.map((h) => hex(h, 32)) : [undefined];
  if (!root || typeof leaf !== 'string' || path.some((h) => !h)) return false;
  return verifyInclusion(leafHash(Buffer.from(leaf, 'utf8')), leafIndex, head.tree_size, path as Buffer[], root);
}

/** Checks that the tree of `second` extends the tree of `first` (nothing rewritten). */
export function verifyHeadsConsistent(
  first: Pick<SignedTreeHead, 'tree_size' | 'root_hash'>,
  second: Pick<SignedTreeHead, 'tree_size' | 'root_hash'>,
  proof: string[],
): boolean {
  const [a, b] = [hex(first.root_hash, 32), hex(second.root_hash, 32)];
  const path = Array.isArray(proof) ? proof.map((h) => hex(h, 32)) : [undefined];
  if (!a || !b || path.some((h) => !h)) return false;
  return verifyConsistency(first.tree_size, second.tree_size, path as Buffer[], a, b);
}

/** The bytes an evidence bundle's signature covers: every member but `signature`. */
export function bundlePayload(bundle: Omit<EvidenceBundle, 'signature'> & { signature?: string }): string {
  const { signature: _signature, ...rest } = bundle;
  return canonicalJson(rest);
}

/**
 * Verifies an evidence bundle end to end: its format, the tree head's signature, each event's
 * leaf and inclusion proof, and the bundle's own signature. `trustedKeys` are the platform's
 * published tree-head keys; without them the bundle's own copy is used, and the report says so.
 */
export async function verifyEvidenceBundle(
  bundle: EvidenceBundle,
  trustedKeys?: JSONWebKeySet,
): Promise<VerificationReport> {
  const checks: string[] = [];
  const errors: string[] = [];
  const fail = (message: string) => ({ ok: false, checks, errors: [...errors, message] });
  if (!bundle || typeof bundle !== 'object' || bundle.format !== EVIDENCE_FORMAT)
    return fail(`not an evidence bundle (format must be ${EVIDENCE_FORMAT})`);
  if (!Array.isArray(bundle.events) || bundle.events.length === 0) return fail('the bundle holds no events');
  const keys = trustedKeys ?? bundle.keys;
  if (!keys || !Array.isArray(keys.keys)) return fail('no keys to verify with');
  if (!trustedKeys)
    checks.push("WARNING: verified with the keys inside the bundle; compare them with the platform's published keys");

  const head = bundle.tree_head;
  if (await verifyTreeHead(head, keys)) checks.push(`tree head signed: size ${head.tree_size}, root ${head.root_hash}`);
  else errors.push('the tree head signature does not verify');

  for (const event of bundle.events) {
    let parsed: { leaf_index?: unknown } | undefined;
    try {
      parsed = JSON.parse(event.leaf);
    } catch {
      parsed = undefined;
    }
    if (!parsed || canonicalJson(parsed) !== event.leaf) {
      errors.push(`leaf ${event.leaf_index}: not canonical JSON`);
    } else if (parsed.leaf_index !== event.leaf_index) {
      errors.push(`leaf ${event.leaf_index}: the leaf says it is leaf ${String(parsed.leaf_index)}`);
    } else if (!verifyLeafInclusion(event.leaf, event.leaf_index, head, event.audit_path)) {
      errors.push(`leaf ${event.leaf_index}: the inclusion proof does not lead to the tree head's root`);
    } else {
      checks.push(`leaf ${event.leaf_index} is in the tree`);
    }
  }

  if (await signedOver(bundle.signature, bundlePayload(bundle), keys)) checks.push('bundle signature verifies');
  else errors.push('the bundle signature does not verify');
  return { ok: errors.length === 0, checks, errors };
}
