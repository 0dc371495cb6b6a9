// The console's built front end, served from one directory under /console with the security
// headers every console response carries. Paths are checked segment by segment before they touch
// the file system, and the resolved file (symbolic links followed) must still be inside the root.
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import type { FastifyReply } from 'fastify';

/** The Content-Security-Policy of every console response: no inline script or style, no framing. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Headers set on every response under /console. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Largest file served (the front end's bundles are far smaller). */
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const SEGMENT = /^[A-Za-z0-9._~@+-]{1,255}$/;

/** Shown when the front end has not been built (tests, a source checkout): no script, no style. */
const PLACEHOLDER_INDEX = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>ztgate console</title></head>
<body>
<h1>ztgate console</h1>
<p>The console front end is not built. <a href="/console/login">Sign in</a> still works.</p>
</body>
</html>
`;

export interface StaticFile {
  readonly body: Buffer | string;
  readonly contentType: string;
  readonly cacheControl: string;
}

/**
 * Serves files from `root`. `resolve(path)` takes the raw URL path after `/console/` (still
 * percent-encoded) and answers the file, index.html for an extension-less path (SPA routes), or
 * undefined (404) for anything unsafe or absent.
 */
export class StaticFiles {
  readonly #root: string;
  #realRoot: Promise<string | undefined> | undefined;

  constructor(root: string) {
    this.#root = root;
  }

  async resolve(rawPath: string): Promise<StaticFile | undefined> {
    const segments = safeSegments(rawPath);
    if (!segments) return undefined;
    if (segments.length === 0) return this.#index();
    const file = await this.#file(segments);
    if (file) return file;
    // A client-side route of the single-page app: no extension in its last segment.
    if (extname(segments[segments.length - 1]!) === '') return this.#index();
    return undefined;
  }

  async #index(): Promise<StaticFile> {
    const file = await this.#file(['index.html']);
    return (
      file ?? { body: PLACEHOLDER_INDEX, contentType: CONTENT_TYPES['.html']!, cacheControl: 'no-store' }
    );
  }

  async #file(segments: readonly string[]): Promise<StaticFile | undefined> {
    const root = await this.#rootPath();
    if (!root) return undefined;
    let full: string;
    try {
      full = await realpath(join(root, ...segments));
    } catch {
      return undefined;
    }
    if (!full.startsWith(root + sep)) return undefined;
    try {
      const info = await stat(full);
      if (!info.isFile() || info.size > MAX_FILE_BYTES) return undefined;
      const body = await readFile(full);
      const ext = extname(full).toLowerCase();
      return {
        body,
        contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
        cacheControl: cacheControlOf(segments, ext),
      };
    } catch {
      return undefined;
    }
  }

  #rootPath(): Promise<string | undefined> {
    // Resolved once it exists; a root that is absent now may be built later, so absence is not cached.
    this.#realRoot ??= realpath(this.#root).then(
      (path) => path,
      () => {
        this.#realRoot = undefined;
        return undefined;
      },
    );
    return this.#realRoot;
  }
}

function cacheControlOf(segments: readonly string[], ext: string): string {
  if (ext === '.html') return 'no-store';
  // Bundler output under assets/ carries a content hash in its name.
  if (segments[0] === 'assets') return 'public, max-age=31536000, immutable';
  return 'no-cache';
}

/**
 * The decoded segments of a raw path, or undefined when any is unsafe: `.`/`..`, dot files,
 * an encoded `/` or `\`, NUL or any control character, or anything outside a plain file-name
 * alphabet. An empty path is the index.
 */
export function safeSegments(rawPath: string): string[] | undefined {
  if (rawPath === '') return [];
  if (rawPath.length > 1024) return undefined;
  const parts = rawPath.split('/');
  // A trailing slash (a directory) is served like the path without it.
  if (parts[parts.length - 1] === '') parts.pop();
  const out: string[] = [];
  for (const part of parts) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(part);
    } catch {
      return undefined;
    }
    if (!SEGMENT.test(decoded) || decoded.startsWith('.')) return undefined;
    out.push(decoded);
  }
  return out;
}

/** Sets the console's security headers on a reply. */
export function setConsoleHeaders(reply: FastifyReply): void {
  for (const [name, value] of Object.entries(CONSOLE_HEADERS)) reply.header(name, value);
}
