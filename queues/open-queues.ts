import { Queue } from "bullmq";
import type { Config } from "../src/config";
import type { Logger } from "../src/log/logger";
import { bullmqErrorListener, type RedisClient } from "../src/redis/connection";
import { queueNames, queueOptions, type QueueName } from "./names";

export type LifelineQueues = Record<QueueName, Queue>;

/** A producer-side Queue for every name in names.ts, on the given connection (dashboard, metrics, replay). */
export function openQueues(config: Config, redis: RedisClient, log?: Logger): LifelineQueues {
  const entries = Object.values(queueNames).map((name) => {
    const queue = new Queue(name, queueOptions(config, name, redis));
    queue.on("error", bullmqErrorListener(log, `queue ${name}`));
    return [name, queue] as const;
  });
  return Object.fromEntries(entries) as LifelineQueues;
}

export async function closeQueues(queues: LifelineQueues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}
