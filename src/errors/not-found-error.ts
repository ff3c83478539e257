import { LifelineError } from "./lifeline-error";

export class NotFoundError extends LifelineError {
  readonly code = "NOT_FOUND" as const;
}
