/**
 * An incremental Server-Sent Events parser (WHATWG "event stream interpretation"), pure and
 * transport-agnostic: feed it bytes or text as they arrive, get back the events completed so far.
 */

/** One dispatched event. `event` is 'message' unless the stream named it. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** Thrown when the stream breaks the parser's bounds (one event larger than allowed). */
export class SseParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SseParseError';
  }
}

/** The default bound on one event's size (pending line plus accumulated data), in UTF-16 code units. */
export const DEFAULT_MAX_EVENT_SIZE = 1024 * 1024;

const LF = 10;
const CR = 13;
const NO_EVENTS: readonly SseEvent[] = [];

/**
 * Stateful parser for one stream. Lines may end in CRLF, LF or CR and may be split anywhere
 * across chunks (including between the CR and LF of one line terminator, and inside a UTF-8
 * sequence when bytes are fed). Comments are ignored; `id` and `retry` fields are ignored.
 */
export class SseParser {
  private readonly maxEventSize: number;
  private readonly decoder = new TextDecoder('utf-8');
  /** The start of a line whose terminator has not arrived yet. */
  private pending = '';
  /** The previous chunk ended in CR: a leading LF in the next chunk belongs to that terminator. */
  private skipLf = false;
  private data = '';
  private hasData = false;
  private eventType = '';

  constructor(maxEventSize: number = DEFAULT_MAX_EVENT_SIZE) {
    this.maxEventSize = maxEventSize;
  }

  /** Feeds raw bytes (decoded as streaming UTF-8; a leading BOM is dropped). */
  pushBytes(bytes: Uint8Array): readonly SseEvent[] {
    return this.push(this.decoder.decode(bytes, { stream: true }));
  }

  /** Feeds decoded text; returns the events completed by it, in order. */
  push(text: string): readonly SseEvent[] {
    let events: SseEvent[] | undefined;
    const length = text.length;
    let start = 0;
    if (this.skipLf && length > 0) {
      if (text.charCodeAt(0) === LF) start = 1;
      this.skipLf = false;
    }
    for (let i = start; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      const line = this.pending === '' ? text.slice(start, i) : this.pending + text.slice(start, i);
      this.pending = '';
      const event = this.processLine(line);
      if (event !== undefined) (events ??= []).push(event);
      if (c === CR) {
        if (i + 1 < length) {
          if (text.charCodeAt(i + 1) === LF) i++;
        } else {
          this.skipLf = true;
        }
      }
      start = i + 1;
    }
    if (start < length) {
      this.pending += text.slice(start);
      this.checkSize();
    }
    return events ?? NO_EVENTS;
  }

  /**
   * Ends the stream. An unterminated last line is dropped (it may be truncated), but an event
   * whose lines all arrived is still dispatched even if the closing blank line never came.
   */
  end(): readonly SseEvent[] {
    const rest = this.decoder.decode();
    if (rest !== '') this.push(rest);
    this.pending = '';
    const event = this.dispatch();
    return event === undefined ? NO_EVENTS : [event];
  }

  private processLine(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.charCodeAt(0) === 58 /* ':' comment */) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* one optional leading space */) value = value.slice(1);
    if (field === 'data') {
      this.data = this.hasData ? `${this.data}\n${value}` : value;
      this.hasData = true;
      this.checkSize();
    } else if (field === 'event') {
      this.eventType = value;
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const event = this.hasData ? { event: this.eventType || 'message', data: this.data } : undefined;
    this.data = '';
    this.hasData = false;
    this.eventType = '';
    return event;
  }

  private checkSize(): void {
    if (this.pending.length + this.data.length > this.maxEventSize) {
      throw new SseParseError(`event exceeds ${this.maxEventSize} characters`);
    }
  }
}
