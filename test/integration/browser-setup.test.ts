import { startPlatformAndBrowser } from '../helpers/browser.js';
import { until } from '../helpers/wait.js';

const listening = () => process.getActiveResourcesInfo().filter((kind) => kind === 'TCPServerWrap').length;

// A browser test file whose browser does not start must fail cleanly: a platform left half-started
// by its beforeAll used to crash the worker after the file ended ("Acquire connection error",
// "Cannot log after tests are done").
describe('a browser test file whose browser does not start', () => {
  it('fails with the launch error and leaves no platform running', async () => {
    const before = listening();
    await expect(startPlatformAndBrowser('/bin/false')).rejects.toThrow(/launch/);
    // A closed server leaves the list of active resources a moment after its 'close' event (no
    // event says when); a server left listening never does, and fails the wait.
    await until(() => listening() <= before, { what: 'the platform to stop listening', intervalMs: 10 });
    expect(listening()).toBe(before);
  });
});
