/**
 * Incident notifications (issue 9): builds notifiers from configuration and fans one notice out to
 * all of them. The notifiers themselves live in notify-webhook.ts (signed Standard Webhooks POSTs)
 * and notify-syslog.ts (RFC 5424 over TCP, TLS or UDP); this module re-exports both.
 *
 *   const notifiers = createNotifiers([
 *     { webhook: 'https://hooks.example.com/ztgate', secret: 'whsec_…' },
 *     { syslog: { host: 'siem.example.com', port: 6514, transport: 'tls' } },
 *   ]);
 *   await notifyAll(notifiers, notice, (err, notifier) => log.warn({ err, to: notifier.label }));
 *
 * Secrets reach this module already resolved (the config layer resolves `env:` and vault refs);
 * no error raised here or below carries one.
 */
import { syslogNotifier, type SyslogNotifierOptions } from './notify-syslog.js';
import {
  NotifyError,
  webhookNotifier,
  type IncidentNotice,
  type Notifier,
  type WebhookNotifierOptions,
} from './notify-webhook.js';

export * from './notify-webhook.js';
export * from './notify-syslog.js';

export type WebhookNotifierConfig = Omit<WebhookNotifierOptions, 'url'> & {
  /** The URL to POST to. */
  readonly webhook: string;
};

export interface SyslogNotifierConfig {
  readonly syslog: SyslogNotifierOptions;
}

export type NotifierConfig = WebhookNotifierConfig | SyslogNotifierConfig;

/**
 * One notifier per config entry, in order. Throws NotifyError `invalid_options` naming the entry
 * (`notifiers[1]: …`) on the first entry that is not usable.
 */
export function createNotifiers(configs: readonly NotifierConfig[]): Notifier[] {
  if (!Array.isArray(configs)) throw new NotifyError('invalid_options', 'notifiers must be a list');
  return configs.map((config, index) => {
    try {
      return createNotifier(config);
    } catch (err) {
      if (!(err instanceof NotifyError)) throw err;
      throw new NotifyError(err.code, `notifiers[${index}]: ${err.message}`, { cause: err.cause });
    }
  });
}

function createNotifier(config: NotifierConfig): Notifier {
  if (typeof config !== 'object' || config === null) {
    throw new NotifyError('invalid_options', 'a notifier must be an object');
  }
  const isWebhook = 'webhook' in config;
  const isSyslog = 'syslog' in config;
  if (isWebhook === isSyslog) {
    throw new NotifyError('invalid_options', 'a notifier needs exactly one of "webhook" and "syslog"');
  }
  if (isWebhook) {
    const { webhook, ...rest } = config;
    if (typeof webhook !== 'string') throw new NotifyError('invalid_options', 'webhook must be a URL string');
    return webhookNotifier({ ...rest, url: webhook });
  }
  const { syslog } = config as SyslogNotifierConfig;
  if (typeof syslog !== 'object' || syslog === null) {
    throw new NotifyError('invalid_options', 'syslog must be an object with host, port and transport');
  }
  return syslogNotifier(syslog);
}

/** Called with each notifier's failure; what it throws is swallowed. */
export type NotifyErrorHandler = (error: unknown, notifier: Notifier) => void;

/**
 * Sends `notice` through every notifier at once; each is independent, so one failing or hanging
 * does not hold back the others' deliveries. Never throws: a failure goes to `onError`. Resolves,
 * with the number delivered, once every notifier has finished.
 */
export async function notifyAll(
  notifiers: readonly Notifier[],
  notice: IncidentNotice,
  onError: NotifyErrorHandler,
): Promise<number> {
  const results = await Promise.all(
    notifiers.map(async (notifier) => {
      try {
        await notifier.notify(notice);
        return true;
      } catch (err) {
        try {
          onError(err, notifier);
        } catch {
          // onError failing must not take the other notifiers' results with it.
        }
        return false;
      }
    }),
  );
  return results.filter(Boolean).length;
}
