import { LifelineError } from "./lifeline-error";

export class RateLimitedError extends LifelineError {
  readonly code = "RATE_LIMITED" as const;
}
