import { CacheTimeoutError } from '../errors';

/** Runs `op`, rejecting with a CacheTimeoutError naming `operation` if it takes longer than `ms`. */
export function withTimeout<T>(
  operation: string,
  op: () => Promise<T>,
  ms: number,
  key?: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CacheTimeoutError(operation, ms, key)), ms);
    timer.unref();
    let p: Promise<T>;
    try {
      p = op();
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
