import { describe, expect, it } from '@jest/globals';
import { isCommonPassword } from '../../src/accounts/common-passwords.js';

// Finding 11 of the attack: 12345678, password and Passw0rd! were accepted at registration.
describe('isCommonPassword', () => {
  it.each([
    '12345678',
    'password',
    'Passw0rd!',
    'PASSWORD',
    'ｐａｓｓｗｏｒｄ',
    'qwertyuiop',
    'iloveyou',
    'woaini1314',
    'a123456789',
    '1qaz2wsx',
    'dragon2024!!',
    'qq123456',
  ])('refuses %s', (password) => {
    expect(isCommonPassword(password)).toBe(true);
  });

  it.each(['correct horse battery', 'tX9#kq2!mB', '长城上的月亮很圆', 'plum-tractor-velvet'])(
    'accepts %s',
    (password) => {
      expect(isCommonPassword(password)).toBe(false);
    },
  );
});
