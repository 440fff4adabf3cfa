/**
 * A Map of at most `most` entries: setting a new key when it is full drops the oldest entry
 * (insertion order). For values read on hot paths that never change once known, kept in memory
 * without growing with the number of people.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly most: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.most) this.delete(this.keys().next().value!);
    return super.set(key, value);
  }
}
