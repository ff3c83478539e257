import { UnrecoverableError } from "bullmq";
import { CustomerNotFoundError, InvalidEventError, UpstreamError, UpstreamTimeoutError } from "../src/errors";

/** Bad input or an unknown customer never succeeds: don't retry it. Everything else is retried by BullMQ. */
export const forBullmq = (err: unknown): unknown =>
  err instanceof InvalidEventError || err instanceof CustomerNotFoundError ? new UnrecoverableError((err as Error).message) : err;

/**
 * An upstream that is down (or refuses our settings) says when to try again (retryAfterSeconds).
 * The job's queue then pauses that long and the job waits with no attempt spent: an outage of
 * hours dead-letters nothing, and the jobs flow again by themselves when the provider is back.
 */
export const upstreamPauseMs = (err: unknown): number | undefined =>
  (err instanceof UpstreamError || err instanceof UpstreamTimeoutError) && err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined;
