// What both the server and the CLI open first: the master key and the database.
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { openDatabase } from './db/database.js';
import { loadMasterKey } from './secrets/master-key.js';
import { SecretBox } from './secrets/box.js';

export async function openCore(config: Config, log: Logger) {
  const masterKey = await loadMasterKey(config.masterKey, config.dataDir);
  const db = await openDatabase(config, log);
  return { db, box: new SecretBox(masterKey), masterKey };
}
