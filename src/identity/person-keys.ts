import { randomBytes } from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Queryable } from '../db/index.js';
import { deletePersonKey, findPersonKey, insertPersonKey } from './store.js';

/**
 * The key hierarchy of personal data (docs/security.md#key-hierarchy): the master key wraps one
 * data key per natural person, and that key seals the person's name, document number, birth
 * date and verification photos. Erasing the person deletes the key: what it sealed, in this
 * database or in any copy made later, can no longer be opened with the keys that remain.
 */
export class PersonKeys {
  constructor(private readonly master: SecretBox) {}

  /** A box sealing under the person's data key (made on first use) and opening under it or the master key. */
  async sealing(db: Queryable, personId: string): Promise<SecretBox> {
    let wrapped = await findPersonKey(db, personId);
    if (!wrapped) {
      await insertPersonKey(db, personId, this.master.seal(randomBytes(32), context(personId)));
      wrapped = (await findPersonKey(db, personId))!;
    }
    return this.master.withCurrentKey(this.master.open(wrapped, context(personId)));
  }

  /**
   * A box opening what was sealed for the person, or with no person (a failed attempt by someone
   * not yet known) the master box. A person without a data key has only values sealed before keys
   * existed, under the master key.
   */
  async opening(db: Queryable, personId: string | null | undefined): Promise<SecretBox> {
    return personId ? this.openingWith(personId, await findPersonKey(db, personId)) : this.master;
  }

  /** `opening`, given the person's wrapped key as read with other data (none: the master box). */
  openingWith(personId: string, wrapped: string | null | undefined): SecretBox {
    return wrapped ? this.master.withCurrentKey(this.master.open(wrapped, context(personId))) : this.master;
  }

  /** Destroys the person's data key (crypto-shredding). Joins the caller's transaction. */
  async destroy(db: Queryable, personId: string): Promise<void> {
    await deletePersonKey(db, personId);
  }
}

const context = (personId: string) => `person-key:${personId}`;
