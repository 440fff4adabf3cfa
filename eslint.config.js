// Lint rules for src/, test/, bench/, examples/ and scripts/ (`npm run lint`, run by .ci/run).
// typescript-eslint's recommended set, with the type-aware rules that catch lost promises; Prettier
// owns the layout (.prettierrc.json), so no stylistic rule here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Which domain's store (src/<domain>/store.ts) owns each table (created in migrations/). A table is
 * read and written by its owner's store only; other modules go through that domain's service.
 */
const TABLE_OWNERS = {
  accounts: ['accounts'],
  audit: ['audit_events', 'audit_nodes', 'audit_tree_heads', 'audit_queue'],
  clients: ['clients'],
  grants: ['consent_choices', 'merchant_credentials', 'partial_confirmations'],
  identity: [
    'persons',
    'person_keys',
    'verifications',
    'verification_images',
    'provider_calls',
    'verification_queries',
  ],
  keys: ['platform_keys'],
  notary: ['offline_registrations'],
  notifications: ['notification_outbox'],
  oidc: ['oidc_payloads'],
  operators: ['operators'],
  passkeys: ['passkeys', 'passkey_challenges', 'passkey_settings'],
  'rate-limits': ['rate_limits'],
  recovery: ['password_resets'],
  security: ['security_events', 'account_sessions'],
};

// Names a knex handle goes by (`db('accounts')`, `tx(...)`, `this.db(...)`).
const HANDLE = '/^(db|tx|trx|knex)$/';
// A statement written as text: SQL keywords in capitals, as every statement here is written.
const SQL_TEXT = '/^\\s*(SELECT|INSERT|UPDATE|DELETE|WITH|VACUUM|TRUNCATE|ALTER|CREATE|DROP|LOCK)\\s/';
const OUTSIDE_STORE =
  "outside a store: move the query into the owning domain's store.ts and call it through that domain's service";

/**
 * SQL is written in stores, db/ (the handle, migrations runner, locks) and migrations/ only: in
 * any other file of src/, naming a table to knex or writing a statement is an error.
 */
const sqlOutsideStores = [
  { selector: `CallExpression[callee.name=${HANDLE}]`, message: `A knex table call ${OUTSIDE_STORE}.` },
  {
    selector: `CallExpression[callee.type='MemberExpression'][callee.property.name=${HANDLE}]`,
    message: `A knex table call ${OUTSIDE_STORE}.`,
  },
  {
    selector: `MemberExpression[object.name=${HANDLE}][property.name='schema'], MemberExpression[object.property.name=${HANDLE}][property.name='schema']`,
    message: `knex's schema builder ${OUTSIDE_STORE}.`,
  },
  {
    selector:
      "CallExpression[callee.property.name=/^(from|into|table|withSchema)$/][arguments.0.type='Literal']:not([callee.object.name=/^(Buffer|Array|Uint8Array|Object)$/])",
    message: `A table named to a query builder ${OUTSIDE_STORE}.`,
  },
  {
    selector:
      'CallExpression[callee.property.name=/^(raw|fromRaw|joinRaw|whereRaw|orWhereRaw|havingRaw|orderByRaw|groupByRaw)$/]',
    message: `Raw SQL ${OUTSIDE_STORE}.`,
  },
  { selector: `Literal[value=${SQL_TEXT}]`, message: `An SQL statement ${OUTSIDE_STORE}.` },
  { selector: `TemplateElement[value.raw=${SQL_TEXT}]`, message: `An SQL statement ${OUTSIDE_STORE}.` },
];

/**
 * A transaction is opened with `inTransaction` everywhere but src/db/: knex's own sets no ambient
 * transaction, so the services called inside it would run their queries beside it, not in it.
 */
const knexTransaction = {
  selector: "CallExpression[callee.type='MemberExpression'][callee.property.name='transaction']",
  message:
    "Open a transaction with inTransaction(db, work) from src/db/transaction.ts: knex's transaction() sets no ambient transaction, so the services called inside it would not join it.",
};

/** In each store, the names of every other domain's tables, as whole words in any string. */
const foreignTables = Object.keys(TABLE_OWNERS).map((domain) => {
  const others = Object.entries(TABLE_OWNERS)
    .filter(([owner]) => owner !== domain)
    .flatMap(([, tables]) => tables);
  const words = `/\\b(${others.join('|')})\\b/`;
  const message = `This store touches another domain's table: only src/${domain}/store.ts's own tables (${TABLE_OWNERS[domain].join(', ')}) belong here; reach the others through their domain's service.`;
  return {
    files: [`src/${domain}/store.ts`],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: `Literal[value=${words}]`, message },
        { selector: `TemplateElement[value.raw=${words}]`, message },
        // A store runs in the transaction it is handed, and opens none.
        knexTransaction,
      ],
    },
  };
});

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'coverage/', 'public/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Input validation here rejects control characters on purpose (NUL, C0, bidi): the regexps
      // that name them are the point, not a mistake.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/**/store.ts', 'src/db/**'],
    rules: { 'no-restricted-syntax': ['error', ...sqlOutsideStores, knexTransaction] },
  },
  ...foreignTables,
  {
    // Tests read arbitrary JSON answers and poke at them; `any` there is the honest type.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { module: 'writable', require: 'readonly', process: 'readonly', console: 'readonly' } },
  },
);
