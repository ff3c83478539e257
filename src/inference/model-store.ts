import type { RedisClient } from "../redis/connection";

/**
 * A fitted model kept in Redis as JSON beside a version key, so every worker process loads
 * the same one and picks up a refit (hot swap) without a restart.
 */
export type ModelFormat<T> = { parse: (text: string) => T; serialise: (model: T) => string; version: (model: T) => string };

export function modelSlot<T>(redis: RedisClient, key: string, versionKey: string, { parse, serialise, version }: ModelFormat<T>) {
  return {
    /** Publishes a model only if it reads back: an unreadable one would stop every worker scoring. */
    async save(model: T): Promise<void> {
      const text = serialise(model);
      parse(text);
      await redis.multi().set(key, text).set(versionKey, version(model)).exec();
    },
    async load(): Promise<T | undefined> {
      const json = await redis.get(key);
      return json ? parse(json) : undefined;
    },
    /** A cached view that re-reads the model when its version key changes (checked at most every refreshMs). */
    cached<S>(build: (model: T) => S, refreshMs: number) {
      let current: { version: string; built: S } | undefined;
      let checkedAt = 0;
      return async (): Promise<S | undefined> => {
        if (current && Date.now() - checkedAt < refreshMs) return current.built;
        checkedAt = Date.now();
        const v = await redis.get(versionKey);
        if (!v) return current?.built;
        if (current?.version === v) return current.built;
        const json = await redis.get(key);
        if (!json) return current?.built;
        let model: T;
        try {
          model = parse(json);
        } catch {
          // Stored by an older version in another shape: as good as none until the next refit.
          return current?.built;
        }
        current = { version: version(model), built: build(model) };
        return current.built;
      };
    },
  };
}
