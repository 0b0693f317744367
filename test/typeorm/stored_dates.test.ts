import 'reflect-metadata';
import { Column, DataSource, Entity, PrimaryColumn } from 'typeorm';
import { fitDatesToColumns } from '../../src/typeorm/stored_dates';

@Entity({ name: 'ck_stored_dates' })
class Stamped {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  seconds!: Date;
  @Column({ precision: 1 })
  tenths!: Date;
  @Column({ precision: 6 })
  micros!: Date;
}

/** The state as `type` would store it; the metadata is built offline, nothing connects. */
async function fitted(
  type: 'mysql' | 'mariadb' | 'postgres',
  version?: string,
): Promise<Record<string, string>> {
  const ds = new DataSource({ type, database: 'offline', entities: [Stamped] } as never);
  await (ds as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
  if (version !== undefined) (ds.driver as unknown as { version: string }).version = version;
  const when = new Date('2026-03-04T05:06:07.891Z');
  const state = Object.assign(new Stamped(), { id: 1, seconds: when, tenths: when, micros: when });
  fitDatesToColumns(ds, ds.getMetadata(Stamped), state);
  return {
    seconds: state.seconds.toISOString(),
    tenths: state.tenths.toISOString(),
    micros: state.micros.toISOString(),
  };
}

describe('fitDatesToColumns', () => {
  test('MySQL rounds to the column precision', async () => {
    expect(await fitted('mysql', '8.0.36')).toEqual({
      seconds: '2026-03-04T05:06:08.000Z',
      tenths: '2026-03-04T05:06:07.900Z',
      micros: '2026-03-04T05:06:07.891Z',
    });
  });

  test('MariaDB truncates, told by its server version even under type "mysql"', async () => {
    const truncated = {
      seconds: '2026-03-04T05:06:07.000Z',
      tenths: '2026-03-04T05:06:07.800Z',
      micros: '2026-03-04T05:06:07.891Z',
    };
    expect(await fitted('mysql', '10.11.19-MariaDB-0+deb12u1')).toEqual(truncated);
    expect(await fitted('mariadb')).toEqual(truncated);
  });

  test('PostgreSQL keeps every millisecond', async () => {
    expect(new Set(Object.values(await fitted('postgres')))).toEqual(new Set(['2026-03-04T05:06:07.891Z']));
  });
});
