import { pino, type DestinationStream, type Logger } from 'pino';

/** Header and field paths that may carry credentials: censored even if some code logs them. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'apiKey',
  'token',
  '*.apiKey',
  '*.token',
  '*.authorization',
  '*.password',
  '*.secret',
  'pin',
  '*.pin',
  'masterKey',
  '*.masterKey',
];

/** JSON logs (one object per line); request-scoped lines carry `requestId`. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'ztgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
