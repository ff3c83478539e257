import { LifelineError } from "./lifeline-error";

export class InvalidJsonError extends LifelineError {
  readonly code = "INVALID_JSON" as const;
}
