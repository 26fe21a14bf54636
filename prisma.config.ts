// Prisma CLI configuration (generate / migrate dev / migrate status). The server never runs the
// CLI: src/db/migrate.ts applies migrations itself. The adapter below lets the CLI use the Wasm
// schema engine shipped in the `prisma` package, because its native engine cannot be downloaded
// here. The patches work around known bugs of adapter-based migrations in Prisma 6.19
// (see docs in the README, "Working on the schema").
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { parse } from 'pg-connection-string';
import { PrismaPg } from '@prisma/adapter-pg';
import { defineConfig } from 'prisma/config';
// @ts-expect-error internal module without types
import Result from 'pg/lib/result.js';

process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/nexus';

// prisma/orm#27403: catalog queries return "char" (18) and name (19), which the adapter refuses.
const addFields = Result.prototype.addFields;
Result.prototype.addFields = function patched(fields: Array<{ dataTypeID: number }>) {
  for (const field of fields) if (field.dataTypeID === 18 || field.dataTypeID === 19) field.dataTypeID = 25;
  return addFields.call(this, fields);
};

// PostgreSQL 18 lists NOT NULL constraints with contype 'n', which the 6.19 engine cannot read.
type Adapter = Awaited<ReturnType<PrismaPg['connect']>>;

function hideNotNullConstraints(adapter: Adapter): Adapter {
  const queryRaw = adapter.queryRaw.bind(adapter);
  adapter.queryRaw = (q) => queryRaw({ ...q, sql: q.sql.replace("contype NOT IN ('p', 'u', 'f')", "contype NOT IN ('p', 'u', 'f', 'n')") });
  return adapter;
}

type ConnectionFields = ReturnType<typeof parse>;

class MigratePg extends PrismaPg {
  constructor(private readonly fields: ConnectionFields) {
    super({ ...(fields as pg.PoolConfig), allowExitOnIdle: true });
  }

  override async connect() {
    return hideNotNullConstraints(await super.connect());
  }

  // The stock implementation ignores the shadow database name for connection strings and drops
  // the database before closing its pool.
  override async connectToShadowDb() {
    const name = `prisma_migrate_shadow_db_${randomUUID().replaceAll('-', '')}`;
    const admin = new pg.Client(this.fields as pg.ClientConfig);
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    const shadow = await new PrismaPg({ ...(this.fields as pg.PoolConfig), database: name, allowExitOnIdle: true }).connect();
    const dispose = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await dispose();
      const dropper = new pg.Client(this.fields as pg.ClientConfig);
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await dropper.end();
    };
    return hideNotNullConstraints(shadow);
  }
}

export default defineConfig({
  experimental: { adapter: true },
  schema: 'prisma/schema.prisma',
  engine: 'js',
  async adapter() {
    return new MigratePg(parse(process.env.DATABASE_URL!));
  },
});
