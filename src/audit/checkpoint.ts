import { KeyObject, createHash, createPublicKey, sign, verify } from 'node:crypto';

/**
 * C2SP signed notes (c2sp.org/signed-note@v1, Ed25519 only) and transparency-log checkpoints
 * (c2sp.org/tlog-checkpoint), so the audit log can publish a checkpoint that Go's
 * golang.org/x/mod/sumdb/note and the transparency-dev tooling (witnesses, monitors) can verify.
 *
 * Publish: `signNote(checkpointBody(origin, size, root), signer)`.
 * Verify: `parseCheckpoint(openNote(note, [vkey]).text)`.
 */

export type NoteErrorCode =
  | 'malformed-note' // not a well-formed signed note, or text/name that cannot be signed
  | 'malformed-checkpoint' // note text is not a checkpoint body, or bad checkpoint fields
  | 'invalid-key' // a key, key name or verifier key string is unusable
  | 'ambiguous-key' // two configured verifiers share a key name and key ID
  | 'invalid-signature' // a configured key's signature does not verify
  | 'unverified-note'; // no configured key signed the note

export class NoteError extends Error {
  constructor(
    readonly code: NoteErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NoteError';
  }
}

export interface NoteSigner {
  name: string;
  privateKey: KeyObject;
}

export interface NoteVerifier {
  name: string;
  publicKey: KeyObject | Uint8Array;
}

export interface Checkpoint {
  origin: string;
  treeSize: number;
  rootHash: Buffer;
  extensions: string[];
}

// signed-note §Signature types: 0x01 is Ed25519.
const ALG_ED25519 = 0x01;
const ED25519_KEY_SIZE = 32;
const ED25519_SIG_SIZE = 64;
const KEY_ID_SIZE = 4;
const HASH_SIZE = 32; // RFC 6962 with SHA-256, as in merkle.ts
// signed-note §Format: verifiers SHOULD cap the signature count and MUST accept 16; Go caps at 100.
const MAX_SIGNATURES = 100;
const SIG_PREFIX = '\u2014 '; // em dash, space

// signed-note §Format: no ASCII control characters other than newline.
const CONTROL_EXCEPT_NEWLINE = /[\x00-\x09\x0b-\x1f]/;
// signed-note §Format: key names are non-empty, without Unicode spaces or '+'. Control characters
// are refused too, since the name is written into the note.
const NAME_FORBIDDEN = /[\p{White_Space}+\x00-\x1f]/u;
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/** Whether `name` may be used as a note key name (signed-note §Format). */
export function isValidKeyName(name: string): boolean {
  return name !== '' && name.isWellFormed() && !NAME_FORBIDDEN.test(name);
}

/** The text of a checkpoint: origin, decimal size, base64 root, then extension lines (tlog-checkpoint §Note text). */
export function checkpointBody(
  origin: string,
  treeSize: number,
  rootHash: Uint8Array,
  extensions: string[] = [],
): string {
  if (!isValidLine(origin))
    throw new NoteError('malformed-checkpoint', 'Checkpoint origin must be one non-empty line.');
  if (!Number.isSafeInteger(treeSize) || treeSize < 0) {
    throw new NoteError('malformed-checkpoint', 'Checkpoint tree size must be a non-negative safe integer.');
  }
  if (rootHash.length !== HASH_SIZE)
    throw new NoteError('malformed-checkpoint', `Checkpoint root hash must be ${HASH_SIZE} bytes.`);
  if (!extensions.every(isValidLine)) {
    throw new NoteError('malformed-checkpoint', 'Checkpoint extension lines must each be one non-empty line.');
  }
  const lines = [origin, String(treeSize), Buffer.from(rootHash).toString('base64'), ...extensions];
  return lines.map((line) => `${line}\n`).join('');
}

/**
 * Parses checkpoint note text (already verified with `openNote`). The origin is not required to be a
 * key name: clients MUST NOT assume its format (tlog-checkpoint §Note text).
 */
export function parseCheckpoint(body: string): Checkpoint {
  const malformed = (why: string) => new NoteError('malformed-checkpoint', `Malformed checkpoint: ${why}.`);
  if (!body.endsWith('\n')) throw malformed('text must end with a newline');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) throw malformed('fewer than three lines');
  if (!lines.every(isValidLine)) throw malformed('lines must be non-empty, without control characters');
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  const treeSize = Number(size);
  if (!DECIMAL.test(size) || !Number.isSafeInteger(treeSize)) throw malformed('tree size is not a canonical decimal');
  const rootHash = decodeBase64(root);
  if (rootHash?.length !== HASH_SIZE) throw malformed(`root hash is not ${HASH_SIZE} bytes in canonical base64`);
  return { origin, treeSize, rootHash, extensions };
}

/** signed-note §Ed25519 signatures: key ID = SHA-256(name || 0x0A || 0x01 || public key)[:4]. */
export function noteKeyHash(name: string, publicKey: KeyObject | Uint8Array): Buffer {
  assertKeyName(name);
  return keyId(name, rawPublicKey(publicKey));
}

/** The Go note verifier key: `<name>+<key ID hex>+<base64(0x01 || public key)>`. */
export function verifierKey(name: string, publicKey: KeyObject | Uint8Array): string {
  assertKeyName(name);
  const raw = rawPublicKey(publicKey);
  const encoded = Buffer.concat([Buffer.of(ALG_ED25519), raw]).toString('base64');
  return `${name}+${keyId(name, raw).toString('hex')}+${encoded}`;
}

export function parseVerifierKey(vkey: string): { name: string; keyHash: Buffer; publicKey: KeyObject } {
  const invalid = (why: string) => new NoteError('invalid-key', `Invalid verifier key: ${why}.`);
  const [name = '', hashHex = '', ...rest] = vkey.split('+');
  // The base64 key may itself contain '+'.
  const key = decodeBase64(rest.join('+'));
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/i.test(hashHex) || !key?.length)
    throw invalid('expected <name>+<hash>+<key>');
  if (key[0] !== ALG_ED25519) throw invalid('unknown signature algorithm');
  const raw = key.subarray(1);
  if (raw.length !== ED25519_KEY_SIZE) throw invalid('Ed25519 key must be 32 bytes');
  const keyHash = Buffer.from(hashHex, 'hex');
  if (!keyHash.equals(keyId(name, raw))) throw invalid('key hash does not match name and key');
  return { name, keyHash, publicKey: publicKeyFromRaw(raw) };
}

/** Signs `text` and returns the signed note: text, blank line, one signature line (signed-note §Format). */
export function signNote(text: string, signer: NoteSigner): string {
  assertKeyName(signer.name);
  assertNoteText(text);
  const { privateKey } = signer;
  if (
    !(privateKey instanceof KeyObject) ||
    privateKey.type !== 'private' ||
    privateKey.asymmetricKeyType !== 'ed25519'
  ) {
    throw new NoteError('invalid-key', 'Note signer needs an Ed25519 private key.');
  }
  const id = keyId(signer.name, rawPublicKey(createPublicKey(privateKey)));
  const signature = sign(null, Buffer.from(text, 'utf8'), privateKey);
  return `${text}\n${SIG_PREFIX}${signer.name} ${Buffer.concat([id, signature]).toString('base64')}\n`;
}

/**
 * Opens a signed note, returning its text and the names of the configured keys that signed it.
 * signed-note §Signatures: signatures from unknown keys are ignored; every signature from a known
 * key must verify or the whole note is refused; with no verified known signature the note is refused.
 * Accepts raw bytes too, so that invalid UTF-8 is refused rather than replaced.
 */
export function openNote(
  note: string | Uint8Array,
  verifiers: ReadonlyArray<NoteVerifier | string>,
): { text: string; verifiedBy: string[] } {
  const { text, signatures } = parseNote(typeof note === 'string' ? note : decodeUtf8(note));
  const known = knownKeys(verifiers);
  const message = Buffer.from(text, 'utf8');
  const verifiedBy: string[] = [];
  for (const { name, id, signature } of signatures) {
    const label = `${name}+${id.toString('hex')}`;
    const candidates = known.get(label);
    if (!candidates) continue;
    if (candidates.length > 1) throw new NoteError('ambiguous-key', `More than one configured key is ${label}.`);
    const valid = signature.length === ED25519_SIG_SIZE && verify(null, message, candidates[0]!, signature);
    if (!valid) throw new NoteError('invalid-signature', `Invalid note signature for key ${label}.`);
    if (!verifiedBy.includes(name)) verifiedBy.push(name);
  }
  if (verifiedBy.length === 0)
    throw new NoteError('unverified-note', 'The note has no signature from a configured key.');
  return { text, verifiedBy };
}

interface ParsedSignature {
  name: string;
  id: Buffer;
  signature: Buffer;
}

function parseNote(note: string): { text: string; signatures: ParsedSignature[] } {
  const malformed = (why: string) => new NoteError('malformed-note', `Malformed note: ${why}.`);
  if (!note.isWellFormed() || CONTROL_EXCEPT_NEWLINE.test(note)) throw malformed('invalid text or control characters');
  // signed-note §Format: the text is separated from the signatures by the last empty line.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) throw malformed('signature lines must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line) => {
    if (!line.startsWith(SIG_PREFIX)) throw malformed('signature line must start with an em dash and a space');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const bytes = decodeBase64(space < 0 ? '' : rest.slice(space + 1));
    if (!isValidKeyName(name) || !bytes || bytes.length <= KEY_ID_SIZE) throw malformed('bad signature line');
    return { name, id: bytes.subarray(0, KEY_ID_SIZE), signature: bytes.subarray(KEY_ID_SIZE) };
  });
  return { text, signatures };
}

/** Configured keys by `<name>+<key ID hex>`; distinct keys under one label are kept to report ambiguity. */
function knownKeys(verifiers: ReadonlyArray<NoteVerifier | string>): Map<string, KeyObject[]> {
  const known = new Map<string, { raw: Buffer[]; keys: KeyObject[] }>();
  for (const verifier of verifiers) {
    const { name, raw } = verifierEntry(verifier);
    assertKeyName(name);
    const label = `${name}+${keyId(name, raw).toString('hex')}`;
    const entry = known.get(label) ?? { raw: [], keys: [] };
    if (!entry.raw.some((r) => r.equals(raw))) {
      entry.raw.push(raw);
      entry.keys.push(publicKeyFromRaw(raw));
    }
    known.set(label, entry);
  }
  return new Map([...known].map(([label, entry]) => [label, entry.keys]));
}

function verifierEntry(verifier: NoteVerifier | string): { name: string; raw: Buffer } {
  if (typeof verifier !== 'string') return { name: verifier.name, raw: rawPublicKey(verifier.publicKey) };
  const { name, publicKey } = parseVerifierKey(verifier);
  return { name, raw: rawPublicKey(publicKey) };
}

function keyId(name: string, raw: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from(`${name}\n`, 'utf8'))
    .update(Buffer.of(ALG_ED25519))
    .update(raw)
    .digest()
    .subarray(0, KEY_ID_SIZE);
}

function rawPublicKey(key: KeyObject | Uint8Array): Buffer {
  if (key instanceof KeyObject) {
    if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') {
      throw new NoteError('invalid-key', 'Expected an Ed25519 public key.');
    }
    return Buffer.from(key.export({ format: 'jwk' }).x ?? '', 'base64url');
  }
  if (key.length !== ED25519_KEY_SIZE) throw new NoteError('invalid-key', 'An Ed25519 public key is 32 bytes.');
  return Buffer.from(key);
}

function publicKeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

function assertKeyName(name: string): void {
  if (!isValidKeyName(name)) {
    throw new NoteError('invalid-key', 'A note key name must be non-empty, without spaces, "+" or control characters.');
  }
}

function assertNoteText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('malformed-note', 'Note text must end with a newline.');
  if (!text.isWellFormed() || CONTROL_EXCEPT_NEWLINE.test(text)) {
    throw new NoteError(
      'malformed-note',
      'Note text must be valid Unicode without control characters other than newline.',
    );
  }
}

function isValidLine(line: string): boolean {
  return line !== '' && line.isWellFormed() && !/[\x00-\x1f]/.test(line);
}

/** RFC 4648 §4 base64, refusing non-canonical spellings so one value has one encoding. */
function decodeBase64(text: string): Buffer | undefined {
  if (!CANONICAL_BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new NoteError('malformed-note', 'Malformed note: not valid UTF-8.');
  }
}
