import { LifelineError } from "./lifeline-error";

export class UnsupportedMediaTypeError extends LifelineError {
  readonly code = "UNSUPPORTED_MEDIA_TYPE" as const;
}
