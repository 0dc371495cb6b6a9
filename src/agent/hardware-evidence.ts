// Evidence producers with a hardware root, for agents inside a confidential VM:
//  - configfs-tsm (Linux >= 6.7, /sys/kernel/config/tsm/report): one interface for AMD SEV-SNP
//    reports and Intel TDX quotes. A report entry is a directory: write the 64-byte report_data to
//    `inblob`, read `outblob` (the report or quote) and `auxblob` (SEV-SNP: the GHCB certificate
//    table holding the VCEK, when the host supplies it), then check `generation` to be sure no
//    other writer raced us on the same entry.
//  - command: runs a program (no shell) that fetches an attestation-service token (Azure
//    Attestation, Confidential Space, an EAR from a verifier) with the binding as its nonce.
// Both put ZTGATE_BINDING_V1(nonce, TLS key) where the verifier looks for it.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZTGATE_BINDING_V1 } from '../runtime/attestation/binding.js';
import { encodeBindingNonce, encodeBindingNonceHalves } from '../runtime/attestation/jwt-evidence.js';
import { encodeSevSnpEvidence, VCEK_GUID } from '../runtime/attestation/sev-snp.js';
import type { EvidenceKind } from '../runtime/attestation/types.js';
import type { EvidenceProducer } from './evidence.js';

export const CONFIGFS_TSM_REPORT = '/sys/kernel/config/tsm/report';

/** The file operations configfs-tsm needs (a seam for tests: no TEE runs here). */
export interface TsmIo {
  mkdir(path: string): Promise<void>;
  writeFile(path: string, data: Uint8Array): Promise<void>;
  readFile(path: string): Promise<Buffer>;
  rmdir(path: string): Promise<void>;
}

const nodeIo: TsmIo = {
  mkdir: async (path) => void (await mkdir(path)),
  writeFile: (path, data) => writeFile(path, data),
  readFile: (path) => readFile(path),
  rmdir: (path) => rmdir(path),
};

const PROVIDERS: Readonly<Record<'sev-snp' | 'tdx', string>> = { 'sev-snp': 'sev_guest', tdx: 'tdx_guest' };

/** The VCEK in a GHCB certificate table (24-byte entries GUID ‖ offset ‖ length, zero-terminated). */
export function vcekFromCertTable(table: Uint8Array): Uint8Array | undefined {
  const buf = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
  const want = Buffer.from(VCEK_GUID.replace(/-/g, ''), 'hex');
  for (let at = 0; at + 24 <= buf.length; at += 24) {
    const guid = buf.subarray(at, at + 16);
    if (guid.every((b) => b === 0)) return undefined;
    if (!guid.equals(want)) continue;
    const offset = buf.readUInt32LE(at + 16);
    const length = buf.readUInt32LE(at + 20);
    if (offset + length > buf.length || length === 0) return undefined;
    return buf.subarray(offset, offset + length);
  }
  return undefined;
}

export interface ConfigfsTsmOptions {
  readonly kind: 'sev-snp' | 'tdx';
  /** Default /sys/kernel/config/tsm/report. */
  readonly root?: string;
  /** SEV-SNP: the VCEK (DER) when the host does not put it in auxblob (e.g. fetched from AMD KDS). */
  readonly vcek?: Uint8Array;
  /** SEV-SNP: the VMPL to request the report at (`privlevel`). */
  readonly privlevel?: number;
  readonly io?: TsmIo;
}

/**
 * Hardware evidence through configfs-tsm. SEV-SNP evidence is the JSON {report, vcek} form of
 * sev-snp.ts; TDX evidence is the quote, base64. Fails (no evidence, the challenge fails) when
 * the kernel reports another provider than the kind configured.
 */
export function configfsTsmProducer(options: ConfigfsTsmOptions): EvidenceProducer {
  const io = options.io ?? nodeIo;
  const root = options.root ?? CONFIGFS_TSM_REPORT;
  return {
    kind: options.kind,
    insecure: false,
    produce: async (nonce, tlsKeyDigest) => {
      const entry = join(root, `ztgate-${randomBytes(8).toString('hex')}`);
      await io.mkdir(entry);
      try {
        const provider = (await io.readFile(join(entry, 'provider'))).toString('utf8').trim();
        if (provider !== PROVIDERS[options.kind])
          throw new Error(`configfs-tsm provider is ${provider}, not ${PROVIDERS[options.kind]}`);
        if (options.privlevel !== undefined)
          await io.writeFile(join(entry, 'privlevel'), Buffer.from(String(options.privlevel)));
        await io.writeFile(join(entry, 'inblob'), ZTGATE_BINDING_V1.expected({ nonce, tlsKeyDigest }));
        const generation = (await io.readFile(join(entry, 'generation'))).toString('utf8').trim();
        const report = await io.readFile(join(entry, 'outblob'));
        const aux =
          options.kind === 'sev-snp'
            ? await io.readFile(join(entry, 'auxblob')).catch(() => undefined)
            : undefined;
        const after = (await io.readFile(join(entry, 'generation'))).toString('utf8').trim();
        if (after !== generation) throw new Error('configfs-tsm: another writer changed the report entry');
        if (options.kind === 'tdx') return report.toString('base64');
        const vcek = (aux && aux.length > 0 ? vcekFromCertTable(aux) : undefined) ?? options.vcek;
        if (!vcek) throw new Error('sev-snp: no VCEK (the host supplied none; configure one)');
        return encodeSevSnpEvidence({ report, vcek });
      } finally {
        await io.rmdir(entry).catch(() => undefined);
      }
    },
  };
}

export interface CommandProducerOptions {
  readonly kind: Exclude<EvidenceKind, 'dev' | 'sev-snp' | 'tdx'>;
  /** The program and its arguments (run without a shell). */
  readonly command: readonly [string, ...string[]];
  readonly timeoutMs?: number;
}

const MAX_TOKEN_BYTES = 64 * 1024;

/**
 * An attestation-service token from a program. It gets the binding in its environment and prints
 * the token on stdout: ZTGATE_BINDING (base64url of the 64 bytes: one nonce), ZTGATE_BINDING_HALVES
 * (two base64url 32-byte nonces, comma-separated: Confidential Space's eat_nonce), and
 * ZTGATE_REPORT_DATA (hex, for a program that asks the hardware itself).
 */
export function commandProducer(options: CommandProducerOptions): EvidenceProducer {
  const [file, ...args] = options.command;
  return {
    kind: options.kind,
    insecure: false,
    produce: (nonce, tlsKeyDigest) =>
      new Promise((resolvePromise, reject) => {
        const binding = { nonce, tlsKeyDigest };
        const env = {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          ZTGATE_BINDING: encodeBindingNonce(binding),
          ZTGATE_BINDING_HALVES: encodeBindingNonceHalves(binding).join(','),
          ZTGATE_REPORT_DATA: Buffer.from(ZTGATE_BINDING_V1.expected(binding)).toString('hex'),
        };
        execFile(
          file,
          args,
          { env, timeout: options.timeoutMs ?? 10_000, maxBuffer: MAX_TOKEN_BYTES, encoding: 'utf8' },
          (err, stdout) => {
            if (err) return reject(new Error(`evidence command failed: ${err.message.split('\n')[0] ?? ''}`));
            const token = stdout.trim();
            if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token))
              return reject(new Error('evidence command printed no compact JWT'));
            resolvePromise(token);
          },
        );
      }),
  };
}
