import { expect, test } from "bun:test";
import { UnsupportedStoreError } from "../../src/errors/unsupported-store-error";
import { checkQdrantVersion, MIN_QDRANT_VERSION, parseVersion } from "../../src/memory/qdrant-version";

const url = "http://qdrant:6333";

const accepted = ["1.16.0", "1.16.3", "1.17.0", "v1.18.2", "1.18.0-dev", "2.0.0", "1.100.0"];
for (const version of accepted)
  test(`a server reporting ${version} is accepted`, () => expect(() => checkQdrantVersion(version, url)).not.toThrow());

const refused = ["1.15.9", "1.13.4", "0.99.0", "1.9.10"];
for (const version of refused)
  test(`a server reporting ${version} is refused with a message naming ${version} and ${MIN_QDRANT_VERSION}`, () => {
    let error: unknown;
    try {
      checkQdrantVersion(version, url);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UnsupportedStoreError);
    expect((error as Error).message).toContain(`reports version ${version}`);
    expect((error as Error).message).toContain(`Qdrant ${MIN_QDRANT_VERSION} or newer`);
    expect((error as Error).message).toContain(url);
  });

for (const reported of ["", "latest", undefined, 116])
  test(`a version that cannot be read (${JSON.stringify(reported)}) is refused, not guessed`, () =>
    expect(() => checkQdrantVersion(reported, url)).toThrow(/cannot read/));

test("versions compare by number, not as text", () => {
  expect(parseVersion("1.9.0")).toEqual([1, 9, 0]);
  expect(() => checkQdrantVersion("1.9.0", url)).toThrow(UnsupportedStoreError);
  expect(() => checkQdrantVersion("1.16.10", url)).not.toThrow();
});
