// Structured JSON logs. Redaction is a safety net: code never passes secrets on purpose.
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'password', '*.password', 'client_secret', '*.client_secret', 'secret', '*.secret',
  'authorization', '*.authorization', 'headers.authorization', 'headers.cookie', '*.cookie',
  'token', '*.token', 'refresh_token', '*.refresh_token', 'access_token', '*.access_token',
  'code', 'databaseUrl', 'redisUrl', 'masterKey', 'stripe.secretKey', 'stripe.webhookSecret',
];

/** A JSON logger writing to standard output, or to the given file descriptor. */
export function createLogger(level: string = 'info', fd = 1): Logger {
  const options = {
    level,
    base: { service: 'nexus' },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return fd === 1 ? pino(options) : pino(options, pino.destination({ fd, sync: true }));
}
