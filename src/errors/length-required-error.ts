import { LifelineError } from "./lifeline-error";

export class LengthRequiredError extends LifelineError {
  readonly code = "LENGTH_REQUIRED" as const;
}
