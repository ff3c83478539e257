/** Runs tasks with the same key one after another, tasks with different keys side by side. */
export function keyedMutex<K>() {
  const tails = new Map<K, Promise<unknown>>();
  return async function run<T>(key: K, task: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    const current = previous.then(task, task);
    const tail = current.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
