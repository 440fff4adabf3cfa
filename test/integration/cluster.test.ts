import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createTestDatabase, ENGINE, type TestDatabase } from '../helpers/db.js';
import { freePort, spawnPlatform } from '../helpers/process.js';
import { until } from '../helpers/wait.js';

/** A GET on a connection of its own (no keep-alive): the cluster hands out connections, not requests. */
function get(url: string): Promise<{ status: number; worker?: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, worker: res.headers['x-worker'] as string | undefined, body }),
        );
      })
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error(`no answer from ${url} within 5 s`));
      })
      .on('error', reject);
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const describePostgres = ENGINE === 'postgres' ? describe : describe.skip;
const describePglite = ENGINE === 'pglite' ? describe : describe.skip;

describePostgres('a cluster of worker processes on one PostgreSQL database', () => {
  let database: TestDatabase;
  let proc: Awaited<ReturnType<typeof spawnPlatform>>;
  let base: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    proc = await spawnPlatform({
      DATABASE_URL: database.databaseUrl!,
      PORT: String(port),
      ISSUER: base,
      CLUSTER_WORKERS: '2',
      LOG_LEVEL: 'info',
    });
  });

  afterAll(async () => {
    await proc?.stop();
    await database?.drop();
  });

  const workersOf = (answers: Array<{ worker?: string }>) => new Set(answers.map((a) => Number(a.worker)));

  it('spreads connections over both workers, each a full platform', async () => {
    expect(proc.output()).toContain('cluster: 2 workers');
    const answers = [];
    for (let i = 0; i < 20; i += 1) {
      answers.push(await get(`${base}/.well-known/openid-configuration`), await get(`${base}/healthz`));
    }
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(JSON.parse(answers[0]!.body)).toMatchObject({ issuer: base });
    const workers = workersOf(answers);
    expect(workers.size).toBe(2);
    expect(workers.has(proc.child.pid!)).toBe(false);
  });

  it('reports the whole cluster at /metrics, whichever worker answers', async () => {
    const before = await get(`${base}/metrics`);
    const count = (text: string) =>
      Number(/realname_http_requests_total\{route="\/healthz",method="GET",status="2xx"\} (\d+)/.exec(text)?.[1] ?? 0);
    for (let i = 0; i < 10; i += 1) await get(`${base}/healthz`);
    // Two scrapes, on two new connections: the same sum either way.
    const [a, b] = [await get(`${base}/metrics`), await get(`${base}/metrics`)];
    expect(a.worker).not.toBe(b.worker);
    expect(count(a.body)).toBe(count(before.body) + 10);
    expect(count(b.body)).toBe(count(before.body) + 10);
    expect(a.body).toMatch(/realname_metrics_database_up 1/);
  });

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const before = workersOf(await Promise.all(Array.from({ length: 6 }, () => get(`${base}/healthz`))));
    const [victim] = [...before];
    process.kill(victim!, 'SIGKILL');
    // A connection the primary hands to a worker in the instant it dies is lost with it
    // (node:cluster); from the moment the primary knows, the other worker takes every connection.
    await proc.waitForOutput('a worker died; restarting it');
    const failures: string[] = [];
    // No event says the new worker takes connections: ask until both workers answer.
    const replaced = await until(
      async () => {
        const answers = [];
        for (let i = 0; i < 4; i += 1)
          answers.push(
            await get(`${base}/healthz`).catch(
              (err: Error) => (failures.push(err.message), { status: 0, worker: undefined }),
            ),
          );
        expect(failures).toEqual([]);
        expect(answers.every((a) => a.status === 200)).toBe(true);
        const workers = workersOf(answers);
        return workers.size === 2 && !workers.has(victim!) ? workers : undefined;
      },
      { what: 'a new worker beside the survivor', timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(replaced.size).toBe(2);
  });

  it('stops every worker on SIGTERM and exits 0', async () => {
    const workers = workersOf(await Promise.all(Array.from({ length: 6 }, () => get(`${base}/healthz`))));
    const exited = once(proc.child, 'exit');
    proc.child.kill('SIGTERM');
    const [code] = await exited;
    expect({ code, output: proc.output() }).toMatchObject({ code: 0 });
    for (const pid of workers) expect(isRunning(pid)).toBe(false);
  });
});

describePglite('a cluster on embedded PGlite', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rn-cluster-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is refused with a message saying why', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'test',
        DATA_DIR: dataDir,
        CLUSTER_WORKERS: '2',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (chunk) => (output += chunk));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output).toContain('cluster.workers: the embedded PGlite database belongs to one process; set DATABASE_URL');
  });
});
