// The performance targets, per core of the 2-core reference machine, over loopback, one server
// process per core. "Per core" below is a rate divided by the layout's server processes. Shares
// are of a baseline measured in the same run (bench/baseline/): the bare oidc-provider storing
// through a one-table PostgreSQL adapter ("bare + adapter"), or raw argon2 verifications.

export const TARGETS = {
  /** client_credentials grants per second per core, and as a share of bare + adapter's. */
  clientCredentialsPerCore: 1000,
  clientCredentialsOfAdapter: 1,
  /** Rotating refresh-token grants per second as a share of bare + adapter's. */
  refreshOfAdapter: 0.7,
  /** Whole sign-in flows per second as a share of raw argon2 verifications per second. */
  signInOfArgon2: 0.5,
  /** CPU per sign-in flow (server and PostgreSQL) beyond its argon2 verification, ms. */
  signInCpuBeyondArgon2Ms: 10,
  /** Userinfo requests per second at each level as a share of bare + adapter's userinfo. */
  userinfoOfAdapter: 0.5,
  /** Audit events appended per second with concurrent writers, on PostgreSQL. */
  auditAppendsPostgres: 3000,
  /** Inclusion proof p99 at 10^6 leaves, ms. */
  inclusionP99Ms: 10,
  /** Notary event query p99 over 10^6 events, ms. */
  notaryP99Ms: 50,
  /** Resident set of one server process, MiB: idle, and under any load. */
  idleRssMib: 150,
  loadRssMib: 300,
} as const;
