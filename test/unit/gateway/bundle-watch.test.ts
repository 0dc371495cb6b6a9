import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { watchBundleDir } from '../../../src/gateway/bundle-watch.js';
import { eventually } from '../../helpers/mesh.js';

describe('watchBundleDir', () => {
  it('reports a burst of changes once, after it went quiet', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ztgate-watch-'));
    let calls = 0;
    const stop = watchBundleDir(dir, 100, () => calls++, assert.fail);
    try {
      for (let i = 0; i < 5; i++) await writeFile(join(dir, `p${i}.cedar`), `// ${i}`);
      await eventually(() => calls === 1);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(calls, 1);
      await mkdir(join(dir, 'tests'));
      await writeFile(join(dir, 'tests', 'a.json'), '[]');
      await eventually(() => calls === 2);
    } finally {
      stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('follows a directory replaced as a whole (renamed into place)', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'ztgate-watch-'));
    const dir = join(parent, 'bundle');
    await mkdir(dir);
    let calls = 0;
    const stop = watchBundleDir(
      dir,
      50,
      () => calls++,
      () => undefined,
    );
    try {
      const next = join(parent, 'next');
      await mkdir(next);
      await writeFile(join(next, 'p.cedar'), '// new');
      await rm(dir, { recursive: true });
      await rename(next, dir);
      await eventually(() => calls >= 1, 8000);
      const seen = calls;
      await writeFile(join(dir, 'q.cedar'), '// edit in the new directory');
      await eventually(() => calls > seen, 8000);
    } finally {
      stop();
      await rm(parent, { recursive: true, force: true });
    }
  });
});
