import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs. Fields that could carry identity data or secrets are redacted wherever
 * they appear, so a careless log call cannot leak them.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: [
        'password',
        '*.password',
        'client_secret',
        '*.client_secret',
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        'login',
        '*.login',
        '*.*.password',
        'name',
        '*.name',
        'document_number',
        '*.document_number',
        'documentNumber',
        '*.documentNumber',
        'phone',
        '*.phone',
        'masterKey',
        '*.masterKey',
        '*.apiKey',
        '*.*.apiKey',
      ],
      censor: '[redacted]',
    },
  });
}
