import type { DataSource } from 'typeorm';
import type { WriteBehind } from '../write_behind/write_behind';

/** The running write-behind of each DataSource: `cachedRepository.save` finds it here. */
const running = new WeakMap<DataSource, WriteBehind>();

/** The write-behind started for `dataSource` and not closed, if any. */
export function writeBehindOf(dataSource: DataSource): WriteBehind | undefined {
  const wb = running.get(dataSource);
  return wb !== undefined && !wb.closed ? wb : undefined;
}

/** Records `wb` as `dataSource`'s write-behind. */
export function setWriteBehind(dataSource: DataSource, wb: WriteBehind): void {
  running.set(dataSource, wb);
}
