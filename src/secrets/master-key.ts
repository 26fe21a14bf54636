// The key that encrypts secrets at rest (signing keys, cookie keys, client secrets).
// Several instances on one database must share it: set NEXUS_MASTER_KEY. A single instance
// generates one in DATA_DIR/master.key (mode 0600) on first start.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export async function loadMasterKey(configured: string | undefined, dataDir: string): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'base64url');
  const file = path.join(dataDir, 'master.key');
  try {
    const key = Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'base64url');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte key`);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  try {
    await fs.writeFile(file, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadMasterKey(undefined, dataDir);
    throw error;
  }
}
