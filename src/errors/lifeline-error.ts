export type ErrorCode =
  | "INVALID_JSON"
  | "INVALID_REQUEST"
  | "INVALID_EVENT"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "PAYLOAD_TOO_LARGE"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CUSTOMER_NOT_FOUND"
  | "RATE_LIMITED"
  | "STORE_UNAVAILABLE"
  | "UPSTREAM_TIMEOUT"
  | "UPSTREAM_ERROR"
  | "MEMORY_MISMATCH"
  | "STORE_UNSUPPORTED";

export type ErrorOptionsWithDetails = ErrorOptions & {
  /** Extra facts for the caller, returned in the error body. */
  details?: Record<string, unknown>;
  /** Set on errors the caller should retry later; becomes `Retry-After`. */
  retryAfterSeconds?: number;
};

export abstract class LifelineError extends Error {
  abstract readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  readonly retryAfterSeconds?: number;

  constructor(message: string, options: ErrorOptionsWithDetails = {}) {
    super(message, options);
    this.name = new.target.name;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
