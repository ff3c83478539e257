const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * Epoch milliseconds of an ISO-8601 date or date-time, or NaN when the text is not one
 * (wrong shape, or an impossible calendar value such as 2024-02-30 or 25:00).
 * A date-time without an offset is read as UTC.
 */
export function parseIsoTime(text: string): number {
  const m = ISO_8601.exec(text);
  if (!m) return Number.NaN;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone] = m;
  const year = +y!, month = +mo!, day = +d!, hour = +h, minute = +mi, second = +s;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return Number.NaN;
  const base = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59), Number((frac + "000").slice(0, 3)));
  if (new Date(base).getUTCDate() !== day) return Number.NaN;
  return base - zoneOffsetMs(zone);
}

function zoneOffsetMs(zone: string | undefined): number {
  if (!zone || zone === "Z" || zone === "z") return 0;
  const sign = zone[0] === "-" ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2, 4) || "0");
  return sign * (hours * 60 + minutes) * 60_000;
}

export const isIsoTime = (text: string): boolean => !Number.isNaN(parseIsoTime(text));
