import { decodeEntry, encodeEntry, type EntryHeader } from '../../src/engine/entry';

describe('entry framing', () => {
  test('header fields and payload round-trip', () => {
    const header: EntryHeader = {
      s: 42,
      t: ['app:__:ns:_', 'app:__:t:_:product:1', 'ünïcode'],
      sl: 5000,
      c: 'json',
      z: 'g',
    };
    const payload = Buffer.from([0, 10, 31, 255]); // the payload may hold newlines and separators
    const out = decodeEntry(encodeEntry(header, payload))!;
    expect(out.header).toEqual(header);
    expect([...out.payload]).toEqual([0, 10, 31, 255]);
  });

  test('an entry without tags, sliding or compression', () => {
    const out = decodeEntry(encodeEntry({ s: 0, c: 'msgpack' }, Buffer.from('x')))!;
    expect(out.header).toEqual({ s: 0, c: 'msgpack' });
  });

  test('bytes cachekit did not write are not an entry', () => {
    for (const raw of [
      '',
      'hello',
      '{"s":1}\npayload',
      'ck2\x1fnope\x1f0\x1fjson\x1f\npayload',
      'ck2\x1f1\npayload',
    ]) {
      expect(decodeEntry(Buffer.from(raw))).toBeUndefined();
    }
  });
});
