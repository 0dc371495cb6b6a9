import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { errorBody, type ChatCompletionChunk, type ZtError } from '../core/index.js';
import type { StreamSink } from './pipeline.js';

/**
 * Writes a chat completion stream as Server-Sent Events to a raw HTTP response, waiting for
 * 'drain' when the client reads slowly so that ztgate never buffers an unbounded answer.
 */
export function createSseSink(res: ServerResponse, requestId: string, signal: AbortSignal): StreamSink {
  let opened = false;
  const finish = (): void => {
    if (!res.writableEnded) res.end();
  };
  return {
    signal,
    open() {
      opened = true;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': requestId,
      });
      res.flushHeaders();
    },
    async write(chunk: ChatCompletionChunk) {
      if (signal.aborted) throw Object.assign(new Error('client closed'), { name: 'AbortError' });
      if (!res.write(`data: ${JSON.stringify(chunk)}\n\n`)) {
        await once(res, 'drain', { signal });
      }
    },
    end() {
      if (!opened || res.writableEnded) return;
      res.write('data: [DONE]\n\n');
      finish();
    },
    fail(err: ZtError) {
      if (!opened || res.writableEnded) return;
      res.write(`data: ${JSON.stringify(errorBody(err))}\n\n`);
      finish();
    },
  };
}
