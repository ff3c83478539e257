import type { DefaultJobOptions, QueueOptions } from "bullmq";
import type { Config } from "../src/config";
import type { RedisClient } from "../src/redis/connection";

/** Every Lifeline queue, named once. */
export const queueNames = {
  clean: "clean",
  embed: "embed",
  inference: "inference",
  deadLetter: "dead-letter",
} as const;
export type QueueName = (typeof queueNames)[keyof typeof queueNames];

/** Retries: exponential backoff with jitter, then the dead-letter queue. */
export const retryOptions = (config: Config): Pick<DefaultJobOptions, "attempts" | "backoff"> => ({
  attempts: config.LIFELINE_JOB_ATTEMPTS,
  backoff: { type: "exponential", delay: config.LIFELINE_JOB_BACKOFF_MS, jitter: 0.5 },
});

const keepOptions: Record<QueueName, Pick<DefaultJobOptions, "removeOnComplete" | "removeOnFail">> = {
  clean: { removeOnComplete: { count: 1_000 }, removeOnFail: { count: 10_000 } },
  embed: { removeOnComplete: { count: 1_000 }, removeOnFail: { count: 10_000 } },
  inference: { removeOnComplete: { age: 86_400, count: 10_000 }, removeOnFail: { count: 10_000 } },
  // Dead letters stay until replayed or deleted by an operator.
  "dead-letter": { removeOnComplete: false, removeOnFail: false },
};

/**
 * Each queue gets its own hash tag, so on Redis Cluster one queue's keys share a slot (BullMQ's
 * scripts need that) while different queues spread over the cluster.
 */
export const queuePrefix = (config: Pick<Config, "LIFELINE_KEY_PREFIX">, name: QueueName) => `${config.LIFELINE_KEY_PREFIX}:{q-${name}}`;

export function queueOptions(config: Config, name: QueueName, connection: RedisClient): QueueOptions {
  return {
    connection,
    prefix: queuePrefix(config, name),
    defaultJobOptions: { ...(name === "dead-letter" ? { attempts: 1 } : retryOptions(config)), ...keepOptions[name] },
  };
}
