/**
 * The platform's own errors (OAuth/OIDC errors stay oidc-provider's `errors.*`). Each carries an
 * HTTP status and a stable problem `type` (RFC 9457 §3.1.1); one middleware renders them as
 * problem+json for APIs or as a friendly page for browsers. `expose` says whether `detail` may be
 * shown to the caller; unexpected errors are never exposed.
 */
export class PlatformError extends Error {
  readonly type: string;

  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly extra: {
      errors?: Array<{ field: string; code: string; message?: string }>;
      expose?: boolean;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = 'PlatformError';
    this.type = `urn:realname:problem:${code}`;
  }

  get expose(): boolean {
    return this.extra.expose ?? this.status < 500;
  }
}

/** Input failed validation; `errors` lists each field and why (codes are i18n keys for pages). */
export class InvalidInput extends PlatformError {
  constructor(
    errors: Array<{ field: string; code: string; message?: string }>,
    message = 'The request has invalid fields.',
  ) {
    super('invalid-input', 400, message, { errors });
  }
}

export class NotFound extends PlatformError {
  constructor(message = 'Not found.') {
    super('not-found', 404, message);
  }
}

export class Conflict extends PlatformError {
  constructor(code: string, message: string) {
    super(code, 409, message);
  }
}

export class Unauthorized extends PlatformError {
  constructor(code: string, message: string) {
    super(code, 401, message);
  }
}
