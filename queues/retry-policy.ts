import { UnrecoverableError } from "bullmq";
import { InvalidEventError } from "../src/errors";

/** Bad input never succeeds: don't retry it. Everything else is retried by BullMQ. */
export const forBullmq = (err: unknown): unknown =>
  err instanceof InvalidEventError ? new UnrecoverableError(err.message) : err;
