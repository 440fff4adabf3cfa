import { runChild } from '../lib/processes.js';

// HTTP load from autocannon, in a process of its own (./autocannon-child.ts) so the load generator
// never shares an event loop with a server or with the bench's own bookkeeping.

/** What varies between requests: a header (a bearer token) or the body (a refresh token). */
export interface RequestVariant {
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadTarget {
  /** Base URL of one listening port. */
  url: string;
  /** Taken in turn, one per request; without any, every request is the same. */
  variants?: RequestVariant[];
}

export interface LoadSpec {
  /** One autocannon instance per target, all at once: one per port of the layout. */
  targets: LoadTarget[];
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Connections per target. */
  connections: number;
  seconds: number;
  /** Unmeasured seconds of the same load first. */
  warmup: number;
  /**
   * Each connection follows a chain: the next request's body is `template` with `{}` replaced by
   * the JSON `field` of the last response (a rotated refresh token is single-use: each response
   * hands over the next one). A connection starts, or restarts after a failure, with a variant.
   */
  follow?: { field: string; template: string };
}

export interface LoadResult {
  /** Responses with a 2xx status, and their rate over the measured seconds. */
  ok: number;
  perSecond: number;
  /** Latency percentiles of all responses; with several targets, the worse target's. */
  p50_ms: number;
  p99_ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  seconds: number;
}

export function runHttpLoad(spec: LoadSpec): Promise<LoadResult> {
  return runChild<LoadSpec, LoadResult>(new URL('./autocannon-child.ts', import.meta.url), spec);
}
