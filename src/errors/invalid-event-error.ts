import { LifelineError } from "./lifeline-error";

export class InvalidEventError extends LifelineError {
  readonly code = "INVALID_EVENT" as const;
}
