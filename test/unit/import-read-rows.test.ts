import { sharedData } from "../../scripts/lib/shared-data";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CsvSplitter, listInputFiles, readRows, type ReaderOptions, type ReadItem } from "../../src/import/read-rows";

const dir = mkdtempSync(join(tmpdir(), "import-rows-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string) {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function all(path: string, opts: ReaderOptions): Promise<ReadItem[]> {
  const out: ReadItem[] = [];
  for await (const item of readRows(path, opts)) out.push(item);
  return out;
}

function splitInChunks(text: string, size: number) {
  const s = new CsvSplitter();
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(...s.push(text.slice(i, i + size)));
  out.push(...s.end());
  return out;
}

describe("CsvSplitter", () => {
  const cases = [
    { name: "plain fields", input: "a,b,c\n", want: [["a", "b", "c"]] },
    { name: "a quoted comma stays in its field", input: '1,"AIRLINE LOUNGE,METAL SIGN",2\n', want: [["1", "AIRLINE LOUNGE,METAL SIGN", "2"]] },
    { name: "doubled quotes are one quote", input: '1,"RECORD FRAME 7"" SINGLE SIZE ",48\n', want: [["1", 'RECORD FRAME 7" SINGLE SIZE ', "48"]] },
    { name: "an empty quoted field", input: '"",x\n', want: [["", "x"]] },
    { name: "CRLF line endings", input: "a,b\r\nc,d\r\n", want: [["a", "b"], ["c", "d"]] },
    { name: "no newline at the end", input: "a,b\nc,d", want: [["a", "b"], ["c", "d"]] },
    { name: "empty fields", input: "a,,\n", want: [["a", "", ""]] },
  ];
  for (const { name, input, want } of cases)
    test(`${name}, whatever the chunk size`, () => {
      for (const size of [1, 2, 3, 7, 1000]) expect(splitInChunks(input, size).map((r) => ("values" in r ? r.values : r.error))).toEqual(want);
    });

  test("a quoted line break keeps the record whole and numbers it by its first line", () => {
    const records = splitInChunks('h1,h2\n1,"two\nlines"\n3,x\n', 4);
    expect(records.map((r) => r.line)).toEqual([1, 2, 4]);
    expect("values" in records[1]! && records[1].values).toEqual(["1", "two\nlines"]);
  });

  test("an unclosed quote at the end of the file is an error naming the line", () => {
    const records = splitInChunks('a,b\n1,"never closed\n', 5);
    expect(records[1]).toMatchObject({ line: 2, error: expect.stringContaining("unclosed quote") });
  });
});

describe("readRows", () => {
  test("CSV with a header yields named fields with file line numbers; a short row is an error", async () => {
    const path = write("orders.csv", 'id,name,qty\n1,"Mug, blue",2\n\n2,Kettle\n3,Tea,1\n');
    const items = await all(path, { format: "csv", header: true });
    expect(items.map((i) => i.line)).toEqual([2, 4, 5]);
    expect(items[0]).toMatchObject({ ok: true, record: { id: "1", name: "Mug, blue", qty: "2" } });
    expect(items[1]).toMatchObject({ ok: false, error: "expected 3 fields, got 2", text: "2,Kettle" });
  });

  test("whitespace-separated rows with leading spaces and CRLF split on runs of spaces", async () => {
    const path = write("cd.txt", " 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n");
    const items = await all(path, { format: "whitespace" });
    expect(items.map((i) => i.ok && i.values)).toEqual([["00001", "19970101", "1", "11.77"], ["00002", "19970112", "1", "12.00"]]);
  });

  test("JSON lines: each object is a row; a broken line is an error with its line number", async () => {
    const path = write("events.jsonl", '{"a":1}\n{oops\n[1]\n{"a":2}\n');
    const items = await all(path, { format: "jsonl" });
    expect(items.map((i) => [i.line, i.ok])).toEqual([[1, true], [2, false], [3, false], [4, true]]);
    expect(items[1]).toMatchObject({ error: expect.stringContaining("not valid JSON") });
    expect(items[2]).toMatchObject({ error: "each line must be a JSON object" });
  });

  test("a real Online Retail day file parses to 8 fields on every row", async () => {
    const items = await all(sharedData("online-retail", "by-day", "2010-12-01.csv"), { format: "csv", header: true });
    expect(items.length).toBe(3108);
    expect(items.every((i) => i.ok && i.values.length === 8)).toBe(true);
  });
});

describe("listInputFiles", () => {
  const folder = join(dir, "by-day");
  mkdirSync(folder);
  for (const name of ["2011-01-02.csv", "2010-12-01.csv", ".hidden.csv", "README.md"]) writeFileSync(join(folder, name), "x\n");

  test("a folder gives its files of the wanted extensions, sorted, hidden ones left out", () => {
    expect(listInputFiles(folder, ["csv"]).map((f) => f.slice(folder.length + 1))).toEqual(["2010-12-01.csv", "2011-01-02.csv"]);
  });
  test("a glob gives its matches sorted", () => {
    expect(listInputFiles(join(folder, "2011-*.csv")).map((f) => f.slice(folder.length + 1))).toEqual(["2011-01-02.csv"]);
  });
  test("a missing path says so", () => {
    expect(() => listInputFiles(join(dir, "nope.csv"))).toThrow("no such file or folder");
  });
});
