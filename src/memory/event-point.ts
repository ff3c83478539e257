import type { CleanEvent } from "../../pipelines/clean-event";
import type { MemoryPoint } from "./memory-store";
import { pointId } from "./point-id";

/** The memory point of one cleaned event: its stable id (from the messageId), its text and vector. */
export function eventPoint(customerId: string, event: CleanEvent, text: string, vector: Float32Array): MemoryPoint {
  return {
    id: pointId(event.messageId),
    customerId,
    vector,
    payload: { messageId: event.messageId, type: event.type, event: event.name, stage: event.stage, ts: event.ts, text },
  };
}
