import { expect, test } from "bun:test";
import { parseIsoTime } from "../../pipelines/iso-time";

const valid = [
  ["2024-05-01T10:00:00.000Z", Date.UTC(2024, 4, 1, 10)],
  ["2024-05-01T10:00:00Z", Date.UTC(2024, 4, 1, 10)],
  ["2024-05-01T12:00:00+02:00", Date.UTC(2024, 4, 1, 10)],
  ["2024-05-01T05:30:00-0430", Date.UTC(2024, 4, 1, 10)],
  ["2024-05-01T10:00:00.123456Z", Date.UTC(2024, 4, 1, 10, 0, 0, 123)],
  ["2024-05-01T10:00", Date.UTC(2024, 4, 1, 10)],
  ["2024-05-01", Date.UTC(2024, 4, 1)],
  ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
] as const;
for (const [text, want] of valid) test(`${text} is ${new Date(want).toISOString()}`, () => expect(parseIsoTime(text)).toBe(want));

const invalid = ["", "yesterday", "1714557600000", "2024-13-01", "2023-02-29", "2024-04-31T00:00:00Z", "2024-01-01T24:00:00Z", "01/02/2024", "2024-1-1", "2024-01-01T10:00:00ZZ"];
for (const text of invalid) test(`"${text}" is not ISO-8601`, () => expect(parseIsoTime(text)).toBeNaN());
