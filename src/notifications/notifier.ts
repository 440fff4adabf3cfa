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
