/**
 * The layers of src/, checked by `npm run lint:deps` (and .ci/run).
 *
 * HTTP (src/app.ts, src/http/, every routes.ts and everything under a routes/ folder)
 *   → services (the rest of each domain folder) → stores (store.ts) → db/.
 * A folder is a domain; domains may use each other's services, never each other's stores, and
 * never in a cycle. docs/architecture.md describes the same layers in prose.
 */
const HTTP = '^src/(app\\.ts|http/|[^/]+/routes(\\.ts|/))';
const ENTRY = '^src/(main|platform|cluster)\\.ts$|^src/cli/';

module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycle',
      comment: 'Two folders that import each other are one domain in two places: move the shared piece.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-module-cycle',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-service-imports-http',
      comment: 'Services, stores and pure modules know nothing of HTTP: no src/http/, no route module.',
      severity: 'error',
      from: { path: '^src/', pathNot: [HTTP, ENTRY] },
      to: { path: HTTP },
    },
    {
      name: 'no-koa-below-http',
      comment: 'A service never imports Koa (types included).',
      severity: 'error',
      from: { path: '^src/', pathNot: [HTTP, ENTRY] },
      // Matched against the resolved path (node_modules/koa/lib/application.js), not the import's name.
      to: {
        path: '^node_modules/(@types/)?(koa|@koa/|koa-)',
        dependencyTypes: ['npm', 'npm-dev', 'npm-no-pkg', 'npm-unknown', 'type-only'],
      },
    },
    {
      name: 'no-foreign-store',
      comment: "A domain reads and writes other domains' tables through their services, never their stores.",
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/[^/]+/store\\.ts$', pathNot: '^src/$1/store\\.ts$' },
    },
    {
      name: 'no-store-upward',
      comment: 'A store is SQL only: it imports db/, errors and pure helpers, never a service or a route.',
      severity: 'error',
      from: { path: '/store\\.ts$' },
      to: { path: ['/service\\.ts$', HTTP] },
    },
    {
      name: 'no-src-to-test',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
