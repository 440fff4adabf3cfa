import { mkdir, writeFile } from 'node:fs/promises';
import { createBenchDatabase } from './lib/database.js';
import { simulateReuse } from './scenarios/reuse.js';

// The result-reuse scenario alone (`npm run bench` runs it in its suite): people verify once and then
// use ten businesses each. Usage: tsx bench/reuse.ts [people=1000]

const database = await createBenchDatabase('pglite', 'reuse');
try {
  const result = await simulateReuse(database, Number(process.argv[2] ?? 1000));
  console.table([result]);
  await mkdir('bench/results', { recursive: true });
  await writeFile(
    `bench/results/reuse-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
    JSON.stringify(result, null, 2),
  );
} finally {
  await database.drop();
}
