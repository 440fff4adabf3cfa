import { BoundedMap } from '../../src/bounded-map.js';

describe('BoundedMap', () => {
  it('drops the oldest entry when a new key comes in full, and keeps everything for a key it has', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2);
    map.set('b', 3);
    expect([...map]).toEqual([
      ['a', 1],
      ['b', 3],
    ]);
    map.set('c', 4);
    expect([...map]).toEqual([
      ['b', 3],
      ['c', 4],
    ]);
  });
});
