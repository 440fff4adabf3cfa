import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  NoteError,
  checkpointBody,
  noteKeyHash,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  signNote,
  verifierKey,
  type NoteErrorCode,
} from '../../src/audit/checkpoint.js';
import { EMPTY_ROOT } from '../../src/audit/merkle.js';

// Published vectors; each fixture names the upstream file it was copied from.
interface GoNoteVectors {
  peter: { vkey: string; skey: string; signatureLine: string };
  enoch: { vkey: string; signatureLine: string };
  text: string;
  signedByPeter: string;
  badVerifierKeys: Array<{ vkey: string; why: string }>;
}
interface CheckpointExample {
  signed: string;
  origin: string;
  treeSize: number;
  rootHash: string;
}
interface C2spExamples {
  signedNote: { text: string; signed: string };
  checkpoint: CheckpointExample;
}
interface SumdbCheckpoint extends CheckpointExample {
  vkey: string;
}

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/checkpoint/${name}`, import.meta.url), 'utf8')) as T;
}

const go = fixture<GoNoteVectors>('go-note.json');
const c2sp = fixture<C2spExamples>('c2sp-examples.json');
const sumdb = fixture<SumdbCheckpoint>('sumdb-checkpoint.json');

/** Go's signer key: PRIVATE+KEY+<name>+<hash>+base64(0x01 || Ed25519 seed), imported as PKCS#8. */
function signerFromGoKey(skey: string): { name: string; privateKey: KeyObject } {
  const [privateTag, keyTag, name = '', hash = '', ...rest] = skey.split('+');
  const key = Buffer.from(rest.join('+'), 'base64');
  if (privateTag !== 'PRIVATE' || keyTag !== 'KEY' || key.length !== 33 || key[0] !== 0x01) {
    throw new Error('not a Go Ed25519 signer key');
  }
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), key.subarray(1)]);
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  if (noteKeyHash(name, createPublicKey(privateKey)).toString('hex') !== hash)
    throw new Error('signer key hash mismatch');
  return { name, privateKey };
}

function codeOf(run: () => unknown): NoteErrorCode | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof NoteError) return error.code;
    throw error;
  }
  return undefined;
}

const peter = signerFromGoKey(go.peter.skey);
const peterPublic = createPublicKey(peter.privateKey);
const { text } = go;

describe('note keys', () => {
  it('computes the Go vector key ID and verifier key from the key pair', () => {
    expect(noteKeyHash('PeterNeumann', peterPublic).toString('hex')).toBe('c74f20a3');
    expect(verifierKey('PeterNeumann', peterPublic)).toBe(go.peter.vkey);
    const raw = Buffer.from(go.peter.vkey.split('+')[2]!, 'base64').subarray(1);
    expect(verifierKey('PeterNeumann', raw)).toBe(go.peter.vkey);
  });

  it('parses a Go verifier key into its name, key ID and public key', () => {
    const parsed = parseVerifierKey(go.peter.vkey);
    expect(parsed.name).toBe('PeterNeumann');
    expect(parsed.keyHash.toString('hex')).toBe('c74f20a3');
    expect(verifierKey(parsed.name, parsed.publicKey)).toBe(go.peter.vkey);
    // A key whose base64 contains '+' (the real sum.golang.org key).
    expect(verifierKey('sum.golang.org', parseVerifierKey(sumdb.vkey).publicKey)).toBe(sumdb.vkey);
  });

  it('refuses every truncation and one-character change of a verifier key (Go TestNewVerifier)', () => {
    const vkey = go.peter.vkey;
    const mangled: string[] = [];
    for (let i = 0; i <= vkey.length; i++) {
      for (let j = i + 1; j <= vkey.length; j++) if (i !== 0 || j !== vkey.length) mangled.push(vkey.slice(i, j));
    }
    for (let i = 0; i < vkey.length; i++) {
      mangled.push(vkey.slice(0, i) + String.fromCharCode(vkey.charCodeAt(i) + 1) + vkey.slice(i + 1));
    }
    for (const { vkey: bad } of go.badVerifierKeys) mangled.push(bad);
    const accepted = mangled.filter((bad) => codeOf(() => parseVerifierKey(bad)) !== 'invalid-key');
    expect(accepted).toEqual([]);
  });

  it('refuses key names that are empty or contain spaces or "+"', () => {
    for (const name of ['', 'a b', 'a+b', 'a\tb', 'a\u00a0b', 'a\u2003b', 'a\nb']) {
      expect(codeOf(() => verifierKey(name, peterPublic))).toBe('invalid-key');
      expect(codeOf(() => signNote(text, { name, privateKey: peter.privateKey }))).toBe('invalid-key');
    }
  });

  it('refuses keys that are not Ed25519 public keys', () => {
    expect(codeOf(() => noteKeyHash('x', peter.privateKey))).toBe('invalid-key');
    expect(codeOf(() => noteKeyHash('x', new Uint8Array(31)))).toBe('invalid-key');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(codeOf(() => noteKeyHash('x', ec.publicKey))).toBe('invalid-key');
    expect(codeOf(() => signNote(text, { name: 'x', privateKey: ec.privateKey }))).toBe('invalid-key');
  });
});

describe('signed notes', () => {
  it('signs the Go vector text byte for byte like golang.org/x/mod/sumdb/note', () => {
    expect(signNote(text, peter)).toBe(go.signedByPeter);
  });

  it('opens the Go vector with a verifier key string or a name and public key', () => {
    expect(openNote(go.signedByPeter, [go.peter.vkey])).toEqual({ text, verifiedBy: ['PeterNeumann'] });
    expect(openNote(go.signedByPeter, [{ name: 'PeterNeumann', publicKey: peterPublic }]).text).toBe(text);
    expect(openNote(Buffer.from(go.signedByPeter, 'utf8'), [go.peter.vkey]).text).toBe(text);
  });

  it('ignores signatures from unknown keys and reports each known signer (Go TestOpen)', () => {
    const both = `${text}\n${go.peter.signatureLine}${go.enoch.signatureLine}`;
    expect(openNote(both, [go.peter.vkey]).verifiedBy).toEqual(['PeterNeumann']);
    expect(openNote(both, [go.peter.vkey, go.enoch.vkey]).verifiedBy).toEqual(['PeterNeumann', 'EnochRoot']);
    const repeated = `${text}\n${go.peter.signatureLine.repeat(2)}${go.enoch.signatureLine.repeat(2)}`;
    expect(openNote(repeated, [go.peter.vkey]).verifiedBy).toEqual(['PeterNeumann']);
  });

  it('round-trips a fresh key and a text with empty lines', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const poem = c2sp.signedNote.text;
    const signed = signNote(poem, { name: 'audit.example/log', privateKey });
    expect(openNote(signed, [verifierKey('audit.example/log', publicKey)])).toEqual({
      text: poem,
      verifiedBy: ['audit.example/log'],
    });
    expect(openNote(signNote('\n', { name: 'n', privateKey }), [{ name: 'n', publicKey }]).text).toBe('\n');
  });

  it('refuses a note no configured key signed', () => {
    expect(codeOf(() => openNote(go.signedByPeter, [go.enoch.vkey]))).toBe('unverified-note');
    expect(codeOf(() => openNote(go.signedByPeter, []))).toBe('unverified-note');
    // The same name under another key is a different key (signed-note §Signatures).
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(codeOf(() => openNote(go.signedByPeter, [{ name: 'PeterNeumann', publicKey: other }]))).toBe(
      'unverified-note',
    );
    // The spec's example is well formed, but its key is not published.
    expect(codeOf(() => openNote(c2sp.signedNote.signed, [go.peter.vkey]))).toBe('unverified-note');
  });

  it('refuses tampered text', () => {
    const tampered = go.signedByPeter.replace('answer', 'Answer');
    expect(codeOf(() => openNote(tampered, [go.peter.vkey]))).toBe('invalid-signature');
  });

  it('refuses a tampered signature from a known key even beside a valid one', () => {
    const line = go.peter.signatureLine;
    const bad = `${line.slice(0, 60)}ABCD${line.slice(60)}`; // Go TestOpen "Invalid signature"
    expect(codeOf(() => openNote(`${text}\n${bad}`, [go.peter.vkey]))).toBe('invalid-signature');
    expect(codeOf(() => openNote(`${text}\n${line}${bad}`, [go.peter.vkey]))).toBe('invalid-signature');
    const flipped = line.replace('x08go/ZJ', 'x08go/ZK');
    expect(codeOf(() => openNote(`${text}\n${flipped}`, [go.peter.vkey]))).toBe('invalid-signature');
  });

  it('refuses malformed notes (Go TestOpen bad messages)', () => {
    const sig = go.peter.signatureLine;
    const bad: Array<string | Uint8Array> = [
      text,
      `${text}\n`,
      `${text}\n${sig.slice(0, -1)}`,
      `\x01${text}\n${sig}`,
      Buffer.concat([Buffer.of(0xff), Buffer.from(`${text}\n${sig}`)]),
      `${text}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`,
      `${text}\n${sig}Unexpected line.\n`,
      `${text}\n${sig.repeat(101)}`,
      `${text}\n— PeterNeumann\n`,
      `${text}\n— PeterNeumann x08g\n`,
      `\ud800${text}\n${sig}`,
    ];
    const codes = bad.map((note) => codeOf(() => openNote(note, [go.peter.vkey])));
    expect(codes).toEqual(bad.map(() => 'malformed-note'));
  });

  it('refuses to sign text without a final newline or with control characters', () => {
    expect(codeOf(() => signNote('abc', peter))).toBe('malformed-note');
    expect(codeOf(() => signNote('a\rb\n', peter))).toBe('malformed-note');
    expect(codeOf(() => signNote('\ud800\n', peter))).toBe('malformed-note');
  });

  it('accepts the same key configured twice', () => {
    const vkey = go.peter.vkey;
    expect(openNote(go.signedByPeter, [vkey, vkey]).verifiedBy).toEqual(['PeterNeumann']);
    const raw = Buffer.from(vkey.split('+')[2]!, 'base64').subarray(1);
    expect(openNote(go.signedByPeter, [vkey, { name: 'PeterNeumann', publicKey: raw }]).verifiedBy).toEqual([
      'PeterNeumann',
    ]);
  });
});

describe('checkpoints', () => {
  it('parses the tlog-checkpoint spec example body', () => {
    const { signed, origin, treeSize, rootHash } = c2sp.checkpoint;
    const body = signed.slice(0, signed.lastIndexOf('\n\n') + 1);
    expect(parseCheckpoint(body)).toEqual({
      origin,
      treeSize,
      rootHash: Buffer.from(rootHash, 'base64'),
      extensions: [],
    });
    expect(checkpointBody(origin, treeSize, Buffer.from(rootHash, 'base64'))).toBe(body);
  });

  it('verifies and parses a real sum.golang.org checkpoint with its pinned key', () => {
    const { text: body, verifiedBy } = openNote(sumdb.signed, [sumdb.vkey]);
    expect(verifiedBy).toEqual(['sum.golang.org']);
    expect(parseCheckpoint(body)).toMatchObject({ origin: sumdb.origin, treeSize: sumdb.treeSize, extensions: [] });
    expect(parseCheckpoint(body).rootHash.toString('base64')).toBe(sumdb.rootHash);
  });

  it('round-trips a signed checkpoint with extension lines', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const origin = 'audit.example/log';
    const body = checkpointBody(origin, 0, EMPTY_ROOT, ['ext one', 'two']);
    expect(body).toBe(`${origin}\n0\n${EMPTY_ROOT.toString('base64')}\next one\ntwo\n`);
    const note = signNote(body, { name: origin, privateKey });
    expect(parseCheckpoint(openNote(note, [verifierKey(origin, publicKey)]).text)).toEqual({
      origin,
      treeSize: 0,
      rootHash: EMPTY_ROOT,
      extensions: ['ext one', 'two'],
    });
  });

  it('refuses to build a checkpoint from bad fields', () => {
    const bad: Array<() => unknown> = [
      () => checkpointBody('', 1, EMPTY_ROOT),
      () => checkpointBody('a\n2', 1, EMPTY_ROOT),
      () => checkpointBody('o', -1, EMPTY_ROOT),
      () => checkpointBody('o', 1.5, EMPTY_ROOT),
      () => checkpointBody('o', 2 ** 53, EMPTY_ROOT),
      () => checkpointBody('o', 1, EMPTY_ROOT.subarray(1)),
      () => checkpointBody('o', 1, EMPTY_ROOT, ['']),
    ];
    expect(bad.map(codeOf)).toEqual(bad.map(() => 'malformed-checkpoint'));
  });

  it('refuses malformed checkpoint bodies', () => {
    const root = EMPTY_ROOT.toString('base64');
    const bad = [
      `o\n1\n${root}`, // no final newline
      `o\n1\n`,
      `\n1\n${root}\n`, // empty origin (tlog-checkpoint §Note text: MUST be non-empty)
      `o\n-42\n${root}\n`, // trillian-tessera parse_test "Negative size"
      `o\n042\n${root}\n`,
      `o\n+42\n${root}\n`,
      `o\n9007199254740992\n${root}\n`,
      'o\n42\nthisisnotright\n', // trillian-tessera parse_test "Bad hash"
      `o\n42\n${root.replace('=', '')}\n`,
      `o\n42\n${EMPTY_ROOT.subarray(1).toString('base64')}\n`,
      `o\n42\n${root}\n\n`,
      `o\n42\n${root}\next\r\n`,
    ];
    expect(bad.map((body) => codeOf(() => parseCheckpoint(body)))).toEqual(bad.map(() => 'malformed-checkpoint'));
  });
});
