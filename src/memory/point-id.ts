import { createHash } from "node:crypto";

/** Fixed namespace for Lifeline point ids; changing it would orphan every stored point. */
export const LIFELINE_NAMESPACE = "8f3c2a7e-5b1d-4c9a-9e2f-6d4b1a0c7e35";

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ""), "hex");
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** UUID v5 (RFC 9562, SHA-1) of `name` in `namespace`. */
export function uuidV5(name: string, namespace: string = LIFELINE_NAMESPACE): string {
  const hash = createHash("sha1").update(uuidBytes(namespace)).update(name, "utf8").digest().subarray(0, 16);
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  return formatUuid(hash);
}

/** Stable point id of an event: redelivering the same messageId overwrites, never duplicates. */
export function pointId(messageId: string): string {
  return uuidV5(messageId);
}

/** The 16 bytes of a uuid, as the embedded store keeps point ids. */
export function uuidToBytes(uuid: string): Uint8Array {
  return uuidBytes(uuid);
}

export function bytesToUuid(bytes: Uint8Array): string {
  return formatUuid(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
