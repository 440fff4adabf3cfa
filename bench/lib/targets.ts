// The performance targets, per core of the 2-core reference machine, over loopback, one server
// process per core. "Per core" below is a rate divided by the layout's server processes.

export const TARGETS = {
  /** client_credentials grants per second per core, and as a share of the bare provider's. */
  clientCredentialsPerCore: 1000,
  clientCredentialsOfBare: 0.6,
  /** Refresh-token grants per second per core. */
  refreshPerCore: 600,
  /** Whole sign-in flows per second as a share of raw argon2 verifications per second. */
  signInOfArgon2: 0.85,
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
