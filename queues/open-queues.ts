import { Queue } from "bullmq";
import type { Config } from "../src/config";
import type { RedisClient } from "../src/redis/connection";
import { queueNames, queueOptions, type QueueName } from "./names";

export type LifelineQueues = Record<QueueName, Queue>;

/** A producer-side Queue for every name in names.ts, on the given connection (dashboard, metrics, replay). */
export function openQueues(config: Config, redis: RedisClient): LifelineQueues {
  const entries = Object.values(queueNames).map((name) => [name, new Queue(name, queueOptions(config, name, redis))] as const);
  return Object.fromEntries(entries) as LifelineQueues;
}

export async function closeQueues(queues: LifelineQueues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}
