/** Times as data files write them, turned into ISO-8601 UTC strings (undefined when unreadable). */
export type TimeFormat = "iso" | "epoch_s" | "epoch_ms" | "yyyymmdd" | "datetime";

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?$/;
const YYYYMMDD = /^(\d{4})(\d{2})(\d{2})$/;
const OFFSET = /^([+-])(\d{2}):?(\d{2})$/;

/**
 * Parses `text` in `format`. Local times ("datetime", "yyyymmdd", ISO without a zone) are read in
 * `timeZone`: "UTC", a fixed offset ("+08:00") or an IANA zone ("Europe/London", daylight saving
 * included).
 */
export function parseTime(text: string, format: TimeFormat, timeZone = "UTC"): string | undefined {
  const t = text.trim();
  if (!t) return undefined;
  switch (format) {
    case "epoch_s":
    case "epoch_ms": {
      if (!/^-?\d+(\.\d+)?$/.test(t)) return undefined;
      const ms = Number(t) * (format === "epoch_s" ? 1000 : 1);
      return isFinite(ms) ? new Date(ms).toISOString() : undefined;
    }
    case "yyyymmdd": {
      const m = YYYYMMDD.exec(t);
      return m ? localToIso([+m[1]!, +m[2]!, +m[3]!, 0, 0, 0, 0], timeZone) : undefined;
    }
    case "datetime": {
      const m = DATETIME.exec(t);
      return m ? localToIso([+m[1]!, +m[2]!, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), +(m[7] ?? "0").padEnd(3, "0")], timeZone) : undefined;
    }
    case "iso": {
      const local = DATETIME.exec(t);
      if (local) return parseTime(t, "datetime", timeZone);
      const ms = Date.parse(t);
      return isNaN(ms) ? undefined : new Date(ms).toISOString();
    }
  }
}

type Parts = [year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number];

function localToIso(p: Parts, timeZone: string): string | undefined {
  const [y, mo, d, h, mi, s, ms] = p;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  if (new Date(asUtc).getUTCDate() !== d) return undefined; // 31 February
  const offsetMs = zoneOffsetMs(timeZone, asUtc);
  // Re-check at the corrected instant: the offset may differ across a DST change.
  const at = asUtc - zoneOffsetMs(timeZone, asUtc - offsetMs);
  return new Date(at).toISOString();
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of `timeZone` from UTC at instant `ms` (positive east of Greenwich). */
export function zoneOffsetMs(timeZone: string, ms: number): number {
  if (timeZone === "UTC" || timeZone === "Z") return 0;
  const fixed = OFFSET.exec(timeZone);
  if (fixed) return (fixed[1] === "-" ? -1 : 1) * (+fixed[2]! * 60 + +fixed[3]!) * 60_000;
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, number> = {};
  for (const { type, value } of f.formatToParts(new Date(ms))) if (type !== "literal") parts[type] = Number(value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - (ms - (ms % 1000 + 1000) % 1000);
}

/** Throws with a readable message when `timeZone` is not one this runtime knows. */
export function assertTimeZone(timeZone: string): void {
  if (timeZone === "UTC" || timeZone === "Z" || OFFSET.test(timeZone)) return;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
  } catch {
    throw new Error(`unknown time zone "${timeZone}": use UTC, an offset like +08:00, or an IANA name like Europe/London`);
  }
}
