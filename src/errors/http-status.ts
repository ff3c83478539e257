import { LifelineError, type ErrorCode } from "./lifeline-error";

// A code missing here fails to compile.
const statusByCode = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  INVALID_EVENT: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CUSTOMER_NOT_FOUND: 404,
  RATE_LIMITED: 429,
  STORE_UNAVAILABLE: 503,
  UPSTREAM_TIMEOUT: 503,
  UPSTREAM_ERROR: 502,
  MEMORY_MISMATCH: 409,
  STORE_UNSUPPORTED: 503,
} satisfies Record<ErrorCode, number>;

export const httpStatus = (err: unknown): number => (err instanceof LifelineError ? statusByCode[err.code] : 500);
