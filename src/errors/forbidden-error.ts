import { LifelineError } from "./lifeline-error";

export class ForbiddenError extends LifelineError {
  readonly code = "FORBIDDEN" as const;
}
