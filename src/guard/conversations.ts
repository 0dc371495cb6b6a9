import { createHmac } from 'node:crypto';
import type { KeyManager } from '../keys/index.js';
import type { StateBus } from '../store/index.js';
import { PSEUDONYM_KEY } from './pseudonym-keys.js';

/** A conversation's pseudonyms: value identity → placeholder, placeholder → the value. */
export interface ConversationMapping {
  readonly byIdentity: ReadonlyMap<string, string>;
  readonly values: ReadonlyMap<string, { readonly type: string; readonly value: string }>;
}

export interface ConversationStore {
  load(conversationKey: Buffer): Promise<ConversationMapping | undefined>;
  save(conversationKey: Buffer, mapping: ConversationMapping): Promise<void>;
}

interface Stored {
  readonly v: 1;
  readonly entries: [identity: string, placeholder: string, type: string, value: string][];
}

const PURPOSE = 'conversation-pseudonyms';
/** A conversation keeps at most this many values (the oldest are dropped first). */
const MAX_ENTRIES = 10_000;

/**
 * Conversation mappings on the StateBus (Redis when scaled out) with a time to live, each
 * envelope-encrypted under the key provider's `guard-pseudonym` key and bound to its
 * conversation. The bus key is an HMAC of the conversation's key, never the id the client sent.
 * Two requests of one conversation at the same moment: the last save wins (numbering stays
 * consistent with what each answer showed, a later turn may renumber a value seen only once).
 */
export function busConversationStore(bus: StateBus, keys: KeyManager, ttlMs: number): ConversationStore {
  const recordOf = (conversationKey: Buffer): string =>
    createHmac('sha256', conversationKey).update('mapping-id').digest('hex');
  const context = (recordId: string) => ({ tenant: 'ztgate', purpose: PURPOSE, recordId });
  return {
    async load(conversationKey) {
      const recordId = recordOf(conversationKey);
      const text = await bus.get(`pseudonyms:${recordId}`);
      if (text === undefined) return undefined;
      const plain = await keys.decrypt(Buffer.from(text, 'base64'), context(recordId));
      const stored = JSON.parse(plain.toString('utf8')) as Stored;
      if (stored.v !== 1 || !Array.isArray(stored.entries)) return undefined;
      const byIdentity = new Map<string, string>();
      const values = new Map<string, { type: string; value: string }>();
      for (const [identity, placeholder, type, value] of stored.entries) {
        byIdentity.set(identity, placeholder);
        values.set(placeholder, { type, value });
      }
      return { byIdentity, values };
    },
    async save(conversationKey, mapping) {
      const recordId = recordOf(conversationKey);
      const entries: Stored['entries'] = [];
      for (const [identity, placeholder] of mapping.byIdentity) {
        const v = mapping.values.get(placeholder);
        if (v) entries.push([identity, placeholder, v.type, v.value]);
      }
      const stored: Stored = { v: 1, entries: entries.slice(-MAX_ENTRIES) };
      const envelope = await keys.encrypt(
        PSEUDONYM_KEY,
        Buffer.from(JSON.stringify(stored)),
        context(recordId),
      );
      await bus.set(`pseudonyms:${recordId}`, envelope.toString('base64'), ttlMs);
    },
  };
}
