import nodemailer, { type Transporter } from 'nodemailer';
import type { Channel } from './store.js';

/** One rendered message on its way out; `id`, `template` and `accountId` say what it is. */
export interface OutgoingMessage {
  /** The outbox row's id; also the mail's Message-ID, so a resent copy can be recognised. */
  id: string;
  accountId: string;
  template: string;
  /** The recipient's address ('' on the log channel). */
  to: string;
  subject: string;
  text: string;
}

/** A way of delivering messages; `send` resolves once the message is accepted, else throws. */
export interface Notifier {
  readonly channel: Channel;
  send(message: OutgoingMessage): Promise<void>;
}

/** The part of a pino logger the log channel needs. */
export interface InfoLogger {
  info(object: Record<string, unknown>, message: string): void;
}

/**
 * Writes one structured line per message, for deployments without mail (and for development).
 * Only the message's id, template and account appear: never the address nor the text, so logs
 * cannot leak who was reminded of what.
 */
export class LogNotifier implements Notifier {
  readonly channel = 'log' as const;

  constructor(private readonly logger: InfoLogger) {}

  async send(message: OutgoingMessage): Promise<void> {
    this.logger.info(
      { notification: message.id, template: message.template, account: message.accountId },
      'notification',
    );
  }
}

export interface SmtpOptions {
  host: string;
  port: number;
  /** TLS from the start (port 465); otherwise STARTTLS is used when the server offers it. */
  secure: boolean;
  auth?: { user: string; pass: string };
  /** The From: address, e.g. `"Real-name platform" <no-reply@example.com>`. */
  from: string;
}

/** Sends mail through an SMTP relay (nodemailer); a refusal or timeout rejects `send`. */
export class SmtpNotifier implements Notifier {
  readonly channel = 'email' as const;
  private readonly transport: Transporter;
  private readonly domain: string;

  constructor(private readonly options: SmtpOptions) {
    this.transport = nodemailer.createTransport({
      host: options.host,
      port: options.port,
      secure: options.secure,
      auth: options.auth,
      // nodemailer's defaults wait up to 2 min to connect and 10 min on a silent socket; a stuck
      // relay would hold the outbox lease that long.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
    this.domain = /@([^>\s]+)>?\s*$/.exec(options.from)?.[1] ?? 'localhost';
  }

  async send(message: OutgoingMessage): Promise<void> {
    await this.transport.sendMail({
      from: this.options.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
      messageId: `<${message.id}@${this.domain}>`,
    });
  }

  close(): void {
    this.transport.close();
  }
}

/** The part of a pino logger the sandbox needs. */
export interface WarnLogger {
  warn(object: Record<string, unknown>, message: string): void;
}

/**
 * Development only: writes the whole message, one-time codes included, to the log instead of
 * sending it, for a channel with no transport configured (email without SMTP, sms without a
 * gateway). Refused in production (src/config/load.ts).
 */
export class SandboxNotifier implements Notifier {
  constructor(
    readonly channel: 'email' | 'sms',
    private readonly logger: WarnLogger,
  ) {}

  async send(message: OutgoingMessage): Promise<void> {
    this.logger.warn(
      {
        notification: message.id,
        channel: this.channel,
        template: message.template,
        account: message.accountId,
        to: message.to,
        text: message.text,
      },
      `notification sandbox: this ${this.channel} message was written here, not sent`,
    );
  }
}

export interface HttpSmsOptions {
  /** The gateway's endpoint, e.g. `https://sms.example.com/v1/messages`. */
  url: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Milliseconds before an unanswered request counts as failed (default 10 s). */
  timeoutMs?: number;
}

/**
 * Text messages through an SMS gateway over HTTP (docs/operations.md#sms): one JSON POST per
 * message, `{ "id", "to", "text" }`, where `id` is the outbox row's id (a gateway may use it to
 * drop a resent copy) and `to` an E.164 number. Any 2xx answer means accepted; anything else,
 * or no answer within the timeout, fails the attempt and the outbox retries it.
 */
export class HttpSmsNotifier implements Notifier {
  readonly channel = 'sms' as const;

  constructor(private readonly options: HttpSmsOptions) {}

  async send(message: OutgoingMessage): Promise<void> {
    const response = await fetch(this.options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
      },
      body: JSON.stringify({ id: message.id, to: message.to, text: message.text }),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      redirect: 'error',
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`the SMS gateway answered ${response.status}`);
  }
}
