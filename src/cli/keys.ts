import {
  EncryptedObjects,
  KEY_ALGORITHMS,
  parseKeyRef,
  type KeyAlgorithm,
  type KeyInfo,
  type KeyRef,
} from '../keys/index.js';
import { parse, UsageError } from './args.js';
import { withKeyContext, type KeyContext } from './key-context.js';

export const KEYS_USAGE = `ztgate keys list [--home DIR] [--json]
ztgate keys create NAME --algorithm aes-256-gcm|ed25519|ecdsa-p256|ecdsa-p384 [--home DIR]
ztgate keys rotate NAME [--home DIR]
ztgate keys disable NAME@VERSION [--home DIR]
ztgate keys enable NAME@VERSION [--home DIR]
ztgate keys destroy NAME@VERSION --yes [--home DIR]
ztgate keys export-public NAME[@VERSION] [--format pem|jwk] [--home DIR]
ztgate keys rewrap NAME [--home DIR]
  Manage keys in the configured key provider. Every operation is recorded in the audit log.
  destroy is irreversible: whatever the version protects can never be read again.
  rewrap re-wraps stored data keys under NAME's primary version without decrypting payloads.`;

function describe(info: KeyInfo): string {
  const versions = info.versions.map((v) => `${v.version}:${v.state}`).join(' ');
  return `${info.name}\t${info.algorithm}\tprimary ${info.name}@${info.primaryVersion}\t${versions}`;
}

function refArg(positionals: readonly string[]): KeyRef {
  const text = positionals[1];
  if (!text || positionals.length !== 2) throw new UsageError('expected one NAME@VERSION');
  try {
    return parseKeyRef(text);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function nameArg(positionals: readonly string[]): string {
  const name = positionals[1];
  if (!name || positionals.length !== 2) throw new UsageError('expected one key NAME');
  return name;
}

type Action = (context: KeyContext) => Promise<number>;

function print(text: string): number {
  process.stdout.write(text + '\n');
  return 0;
}

/** `ztgate keys …`. */
export async function keysCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    home: { type: 'string' },
    json: { type: 'boolean' },
    algorithm: { type: 'string' },
    yes: { type: 'boolean' },
    format: { type: 'string' },
  });
  const sub = positionals[0];
  let action: Action;
  switch (sub) {
    case 'list':
      if (positionals.length !== 1) throw new UsageError('keys list takes no arguments');
      action = async ({ service }) => {
        const keys = await service.keys.listKeys();
        if (values.json) return print(JSON.stringify(keys, null, 2));
        return print(keys.length === 0 ? '(no keys)' : keys.map(describe).join('\n'));
      };
      break;
    case 'create': {
      const name = nameArg(positionals);
      const algorithm = values.algorithm as KeyAlgorithm | undefined;
      if (!algorithm || !KEY_ALGORITHMS.includes(algorithm)) {
        throw new UsageError(`--algorithm must be one of ${KEY_ALGORITHMS.join(', ')}`);
      }
      action = async ({ service, actor }) =>
        print(describe(await service.keys.createKey(name, algorithm, actor)));
      break;
    }
    case 'rotate': {
      const name = nameArg(positionals);
      action = async ({ service, actor }) => print(describe(await service.keys.rotateKey(name, actor)));
      break;
    }
    case 'disable':
    case 'enable': {
      const ref = refArg(positionals);
      action = async ({ service, actor }) =>
        print(
          describe(
            sub === 'disable'
              ? await service.keys.disableVersion(ref, actor)
              : await service.keys.enableVersion(ref, actor),
          ),
        );
      break;
    }
    case 'destroy': {
      const ref = refArg(positionals);
      if (!values.yes) {
        throw new UsageError(
          'destroy is irreversible: add --yes to destroy the key version and all it protects',
        );
      }
      action = async ({ service, store, actor }) => {
        const counts = await store.objects.countByVersion(ref.name);
        const info = await service.keys.destroyVersion(ref, actor);
        const lost = counts[ref.version] ?? 0;
        process.stdout.write(
          `destroyed ${ref.name}@${ref.version}; ${lost} stored object(s) under it are now unreadable\n`,
        );
        return print(describe(info));
      };
      break;
    }
    case 'export-public': {
      const text = positionals[1];
      if (!text || positionals.length !== 2) throw new UsageError('expected NAME or NAME@VERSION');
      const format = values.format ?? 'pem';
      if (format !== 'pem' && format !== 'jwk') throw new UsageError('--format must be pem or jwk');
      action = async ({ service, actor }) => {
        const ref = text.includes('@')
          ? parseKeyRef(text)
          : { name: text, version: (await service.keys.describeKey(text)).primaryVersion };
        const exported = await service.keys.exportPublicKey(ref, actor);
        return print(format === 'pem' ? exported.spkiPem.trimEnd() : JSON.stringify(exported.jwk));
      };
      break;
    }
    case 'rewrap': {
      const name = nameArg(positionals);
      action = async ({ service, store, actor }) => {
        const objects = new EncryptedObjects(service.keys, store.objects);
        const report = await service.keys.runAudited('rewrap', name, actor, () => objects.rewrapAll(name));
        print(JSON.stringify(report));
        return Object.keys(report.failed).length === 0 ? 0 : 1;
      };
      break;
    }
    default:
      throw new UsageError('expected: keys list|create|rotate|disable|enable|destroy|export-public|rewrap');
  }
  return withKeyContext(values.home, `keys ${sub}`, action);
}
