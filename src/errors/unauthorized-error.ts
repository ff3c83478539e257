import { LifelineError } from "./lifeline-error";

export class UnauthorizedError extends LifelineError {
  readonly code = "UNAUTHORIZED" as const;
}
