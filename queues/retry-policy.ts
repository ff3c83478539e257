import { UnrecoverableError } from "bullmq";
import { CustomerNotFoundError, InvalidEventError } from "../src/errors";

/** Bad input or an unknown customer never succeeds: don't retry it. Everything else is retried by BullMQ. */
export const forBullmq = (err: unknown): unknown =>
  err instanceof InvalidEventError || err instanceof CustomerNotFoundError ? new UnrecoverableError((err as Error).message) : err;
