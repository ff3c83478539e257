import { LifelineError } from "./lifeline-error";

export class InvalidRequestError extends LifelineError {
  readonly code = "INVALID_REQUEST" as const;
}
