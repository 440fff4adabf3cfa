import { passwordProblems } from '../../src/accounts/service.js';
import { sessionLifetime } from '../../src/oidc/sessions.js';
import { describeDevice } from '../../src/security/device.js';

// The pure parts of the security page: a session's remaining lifetime, the device a session list
// shows, and what is wrong with a new password.

describe('sessionLifetime', () => {
  const ttl = { session: 3600, sessionAbsolute: 86_400 };
  const login = 1_000_000;

  it('is the idle lifetime while the absolute one is far', () => {
    expect(sessionLifetime(ttl, login, login + 10)).toBe(3600);
    expect(sessionLifetime(ttl, undefined, login)).toBe(3600);
  });

  it('is cut to what is left of the absolute lifetime, counted from the sign-in', () => {
    expect(sessionLifetime(ttl, login, login + 86_400 - 600)).toBe(600);
  });

  it('is one second, never zero or less, once the absolute lifetime is spent', () => {
    expect(sessionLifetime(ttl, login, login + 86_400)).toBe(1);
    expect(sessionLifetime(ttl, login, login + 200_000)).toBe(1);
  });
});

describe('describeDevice', () => {
  it.each([
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      'Chrome on Windows',
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
      'Edge on Windows',
    ],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      'Safari on iOS',
    ],
    [
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
      'Chrome on Android',
    ],
    [
      'Mozilla/5.0 (Linux; Android 13; V2148A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.49',
      'WeChat on Android',
    ],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox on Linux'],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      'Safari on macOS',
    ],
    [
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36',
      'Chrome on Linux',
    ],
    ['curl/8.0', 'Unknown browser'],
  ])('%s → %s', (userAgent, device) => {
    expect(describeDevice(userAgent)).toBe(device);
  });

  it('is nothing without a header', () => {
    expect(describeDevice(undefined)).toBeUndefined();
    expect(describeDevice('')).toBeUndefined();
  });
});

describe('passwordProblems', () => {
  it('accepts a long uncommon password', () => {
    expect(passwordProblems('violet tractor harbour', 'zhang@example.com')).toEqual([]);
  });

  it.each([
    ['short', 'password_too_short'],
    ['x'.repeat(129), 'password_too_long'],
    ['password123', 'password_common'],
    ['Passw0rd!', 'password_common'],
    ['my zhangwei@example.com pass', 'password_login'],
    ['ZHANGwei-2024-secret', 'password_login'],
    ['my RealName account 2024', 'password_context'],
    ['我的实名账户密码', 'password_context'],
  ])('refuses %s (%s)', (password, code) => {
    expect(passwordProblems(password, 'zhangwei@example.com')).toEqual([{ field: 'password', code }]);
  });

  it('checks a mobile-number login as a whole', () => {
    expect(passwordProblems('call me on 13800138000', '13800138000')).toEqual([
      { field: 'password', code: 'password_login' },
    ]);
    // A short email name is not searched for on its own: it would refuse too many passwords.
    expect(passwordProblems('a fine long passphrase', 'ab@example.com')).toEqual([]);
  });
});
