import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, resolveSecret, type ZtgateConfig } from '../config/index.js';
import type { AuditEntry } from '../core/index.js';
import { isModelSigningError } from '../runtime/model-signing/errors.js';
import { defaultSignaturePath, type ModelTrust } from '../runtime/model-signing/index.js';
import {
  loadSignedPrompts,
  type SignedPromptSet,
  type SystemPromptTemplate,
} from '../runtime/system-prompts.js';
import type { SystemPromptFor } from '../guard/system-prompt.js';
import { watchBundleDir } from './bundle-watch.js';
import { controlAuditEntry } from './control-audit.js';
import type { KeyService } from './key-service.js';

export interface PromptService {
  /** The signed template each model injects (undefined: the model has none). */
  readonly systemPromptFor: SystemPromptFor;
  /** The set in force. */
  readonly current: () => SignedPromptSet;
  /** Re-verifies the directory now (the watcher calls it; tests too). True when the new set took effect. */
  reload(): Promise<boolean>;
  close(): void;
}

export interface PromptServiceOptions {
  readonly config: ZtgateConfig;
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly keys: KeyService;
  readonly audit: (entry: AuditEntry) => Promise<unknown>;
  readonly logger: Logger;
}

function setEntry(set: SignedPromptSet, dir: string): AuditEntry {
  const signer =
    set.signer.kind === 'public-key' ? `key:${set.signer.hint}` : `cert:${set.signer.leafFingerprint256}`;
  return controlAuditEntry({
    action: 'prompts.verified',
    target: `prompts:${dir}`,
    actor: 'system',
    authMethod: 'system',
    outcome: 'ok',
    details: [
      `root:sha256:${set.rootDigest}`,
      `signer:${signer}`,
      ...[...set.templates.values()].map((t) => `template:${t.name}@sha256:${t.sha256}`),
    ],
  });
}

function refusedEntry(dir: string, code: string): AuditEntry {
  return controlAuditEntry({
    action: 'prompts.refused',
    target: `prompts:${dir}`,
    actor: 'system',
    authMethod: 'system',
    outcome: 'failed',
    errorCode: code,
    details: [`reason:${code}`],
  });
}

/**
 * Opens `prompts` (undefined when not configured). The start fails unless the directory verifies
 * and holds every template a model names. Afterwards a change is verified before it takes effect:
 * a set that does not verify, or lacks a named template, is refused (a ledger entry) and the last
 * verified one stays in force: what models receive is always a verified copy held in memory.
 */
export async function openPromptService(options: PromptServiceOptions): Promise<PromptService | undefined> {
  const { config, home, env, keys, logger } = options;
  const p = config.prompts;
  if (!p) return undefined;
  const dir = resolve(home, p.dir);
  const signature = p.signature ? resolve(home, p.signature) : await defaultSignaturePath(dir);
  const secret = (ref: string, where: string) => resolveSecret(ref, where, home, env, keys.unseal);
  const trust: ModelTrust = p.publicKey
    ? { publicKey: await secret(p.publicKey, 'prompts.publicKey') }
    : {
        certificateChain: await Promise.all(
          (p.certificateChain ?? []).map((ref, i) => secret(ref, `prompts.certificateChain[${i}]`)),
        ),
      };
  const wanted = config.models.flatMap((m) => (m.systemPrompt ? [[m.id, m.systemPrompt] as const] : []));
  const missing = (set: SignedPromptSet): string[] =>
    wanted.filter(([, s]) => !set.templates.has(s.template)).map(([id, s]) => `${id}: ${s.template}`);

  let current: SignedPromptSet;
  try {
    current = await loadSignedPrompts(dir, signature, trust);
  } catch (err) {
    const code = isModelSigningError(err) ? err.code : 'unreadable';
    await options.audit(refusedEntry(p.dir, code));
    throw new ConfigError([
      `prompts: the templates in ${p.dir} do not verify (${code}): ${(err as Error).message}`,
    ]);
  }
  const absent = missing(current);
  if (absent.length > 0) throw new ConfigError([`prompts: no signed template for ${absent.join(', ')}`]);
  await options.audit(setEntry(current, p.dir));
  logger.info(
    { templates: current.templates.size, root: current.rootDigest },
    'prompts: signed templates verified',
  );

  const reload = async (): Promise<boolean> => {
    let next: SignedPromptSet;
    try {
      next = await loadSignedPrompts(dir, signature, trust);
      const gone = missing(next);
      if (gone.length > 0)
        throw Object.assign(new Error(`no template for ${gone.join(', ')}`), { code: 'template_missing' });
    } catch (err) {
      const code = isModelSigningError(err) ? err.code : ((err as { code?: string }).code ?? 'unreadable');
      logger.error(
        { code, err: (err as Error).message },
        'prompts: the changed templates do not verify; the last verified ones stay in force',
      );
      await options.audit(refusedEntry(p.dir, code)).catch(() => undefined);
      return false;
    }
    if (next.rootDigest === current.rootDigest) return true;
    await options.audit(setEntry(next, p.dir));
    current = next;
    logger.info(
      { templates: next.templates.size, root: next.rootDigest },
      'prompts: new signed templates in force',
    );
    return true;
  };
  const stop = p.watch
    ? watchBundleDir(
        dir,
        250,
        () => void reload(),
        (err) => logger.warn({ err: err.message }, 'prompts: watch failed'),
      )
    : () => undefined;

  const byModel = new Map(wanted);
  return {
    systemPromptFor: (modelId) => {
      const wantedFor = byModel.get(modelId);
      if (!wantedFor) return undefined;
      const template: SystemPromptTemplate | undefined = current.templates.get(wantedFor.template);
      // Unreachable (a set lacking a named template never takes effect); fail closed if it were.
      if (!template) throw new Error(`the signed template ${wantedFor.template} is not in force`);
      return { template, clientSystem: wantedFor.clientSystem };
    },
    current: () => current,
    reload,
    close: stop,
  };
}
