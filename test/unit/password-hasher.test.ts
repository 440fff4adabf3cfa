import { argon2Slots, PasswordHasher } from '../../src/accounts/password.js';

// Small argon2 parameters: these tests are about how many computations run at once, not their cost.
const PARAMS = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

describe('argon2 slots', () => {
  it('gives one per core and always leaves a thread of the libuv pool free', () => {
    expect(argon2Slots(2, 4)).toBe(2);
    expect(argon2Slots(16, 4)).toBe(3);
    expect(argon2Slots(16, 9)).toBe(8);
    expect(argon2Slots(1, 4)).toBe(1);
    expect(argon2Slots(4, 1)).toBe(1);
  });

  it('runs at most its slots at once; the rest wait their turn and all finish with the right answer', async () => {
    const hasher = new PasswordHasher(PARAMS, 2);
    const hash = await hasher.hash('correct horse battery');
    expect(hasher.load).toEqual({ running: 0, waiting: 0 });
    const answers = Promise.all([
      ...Array.from({ length: 4 }, () => hasher.verify(hash, 'correct horse battery')),
      hasher.verify(hash, 'wrong'),
      hasher.verifyNothing('anything'),
    ]);
    // Four waiting: verifyNothing's first call queues the hash it then verifies against.
    expect(hasher.load).toEqual({ running: 2, waiting: 4 });
    expect(await answers).toEqual([true, true, true, true, false, false]);
    expect(hasher.load).toEqual({ running: 0, waiting: 0 });
  });

  it('frees its slot when a verification fails', async () => {
    const hasher = new PasswordHasher(PARAMS, 1);
    await expect(hasher.verify('not an argon2 hash', 'x')).rejects.toThrow();
    await expect(hasher.verify(await hasher.hash('pw'), 'pw')).resolves.toBe(true);
  });
});
