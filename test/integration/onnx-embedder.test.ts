import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config";
import { createEmbedder } from "../../src/embeddings/create-embedder";
import { createOnnxEmbedder } from "../../src/embeddings/onnx-model";

/**
 * The ONNX provider on a real (tiny) model run by onnxruntime-node: the model is written here
 * as ONNX protobuf bytes (Gather of a 4-d embedding table by token id, times the attention
 * mask, like a transformer's token states), with a WordPiece tokenizer.json beside it, so the
 * expected sentence vector (the mean of the text's token rows, normalised) is known exactly.
 */
const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "late", "delivery", "parcel", "##s", "happy", "customer", ","];
const table = [
  [0, 0, 0, 0],
  [0.1, 0.1, 0.1, 0.1],
  [0.2, 0, 0, 0.1],
  [0, 0.2, 0.1, 0],
  [1, 0.2, 0, 0],
  [0.9, 0.4, 0, 0.1],
  [0.8, 0.5, 0.1, 0],
  [0, 0, 0.3, 0],
  [0, 0, 1, 0.6],
  [0.1, 0, 0.7, 0.7],
  [0, 0.05, 0, 0],
];
const D = 4;

// --- a minimal protobuf writer, enough for an ONNX ModelProto ---
type Field = Uint8Array;
const varint = (n: bigint | number): number[] => {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
};
const concat = (parts: ArrayLike<number>[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));
const int = (field: number, n: bigint | number): Field => Uint8Array.from([...varint(field << 3), ...varint(n)]);
const bytes = (field: number, b: Uint8Array): Field => concat([varint((field << 3) | 2), varint(b.length), b]);
const str = (field: number, s: string): Field => bytes(field, new TextEncoder().encode(s));
const msg = (field: number, ...parts: Field[]): Field => bytes(field, concat(parts));

const FLOAT = 1;
const INT64 = 7;
const tensor = (field: number, name: string, dims: number[], type: number, raw: Uint8Array) =>
  msg(field, ...dims.map((d) => int(1, d)), int(2, type), str(8, name), bytes(9, raw));
const valueInfo = (field: number, name: string, type: number, dims: (number | string)[]) =>
  msg(field, str(1, name), msg(2, msg(1, int(1, type), msg(2, ...dims.map((d) => (typeof d === "number" ? msg(1, int(1, d)) : msg(1, str(2, d))))))));
const node = (op: string, inputs: string[], outputs: string[], ...attributes: Field[]) =>
  msg(1, ...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, `${op.toLowerCase()}-node`), str(4, op), ...attributes);

function tinyModel(): Uint8Array {
  const weights = new Uint8Array(Float32Array.from(table.flat()).buffer);
  const axes = new Uint8Array(BigInt64Array.from([-1n]).buffer);
  const graph = msg(
    7,
    node("Gather", ["embeddings", "input_ids"], ["token_rows"]),
    node("Cast", ["attention_mask"], ["mask_float"], msg(5, str(1, "to"), int(3, FLOAT), int(20, 2))),
    node("Unsqueeze", ["mask_float", "last_axis"], ["mask_3d"]),
    node("Mul", ["token_rows", "mask_3d"], ["last_hidden_state"]),
    str(2, "tiny-sentence-model"),
    tensor(5, "embeddings", [vocab.length, D], FLOAT, weights),
    tensor(5, "last_axis", [1], INT64, axes),
    valueInfo(11, "input_ids", INT64, ["batch", "tokens"]),
    valueInfo(11, "attention_mask", INT64, ["batch", "tokens"]),
    valueInfo(12, "last_hidden_state", FLOAT, ["batch", "tokens", D]),
  );
  return concat([int(1, 7), str(2, "lifeline-test"), graph, msg(8, int(2, 13))]);
}

function expected(tokens: string[]): number[] {
  const sum = new Array<number>(D).fill(0);
  for (const t of tokens) table[vocab.indexOf(t)]!.forEach((x, d) => (sum[d]! += x));
  const norm = Math.hypot(...sum);
  return sum.map((x) => x / norm);
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "lifeline-onnx-"));
  writeFileSync(join(dir, "model.onnx"), tinyModel());
  const tokenizer = { model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", vocab: Object.fromEntries(vocab.map((t, i) => [t, i])) }, normalizer: { type: "BertNormalizer", lowercase: true } };
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ONNX sentence model from a folder", () => {
  test("a text's vector is the model's token states mean-pooled over its tokens and normalised", async () => {
    const embedder = await createOnnxEmbedder({ modelDir: dir });
    expect(embedder.dimensions).toBe(D);
    const [v] = await embedder.embed(["Late delivery"]);
    Array.from(v!).forEach((x, d) => expect(x).toBeCloseTo(expected(["[CLS]", "late", "delivery", "[SEP]"])[d]!, 5));
  });

  test("WordPiece splits unknown forms into known pieces and marks the rest unknown", async () => {
    const embedder = await createOnnxEmbedder({ modelDir: dir });
    const [parcels, unknown] = await embedder.embed(["Parcels, late", "zebra"]);
    Array.from(parcels!).forEach((x, d) => expect(x).toBeCloseTo(expected(["[CLS]", "parcel", "##s", ",", "late", "[SEP]"])[d]!, 5));
    Array.from(unknown!).forEach((x, d) => expect(x).toBeCloseTo(expected(["[CLS]", "[UNK]", "[SEP]"])[d]!, 5));
  });

  test("padding in a batch of different lengths does not change any text's vector", async () => {
    const embedder = await createOnnxEmbedder({ modelDir: dir, batchSize: 8 });
    const texts = ["late", "happy customer, late parcel delivery", "delivery"];
    const together = await embedder.embed(texts);
    const alone = await Promise.all(texts.map(async (t) => (await embedder.embed([t]))[0]!));
    together.forEach((v, i) => Array.from(v).forEach((x, d) => expect(x).toBeCloseTo(alone[i]![d]!, 6)));
  });

  test("texts are cut at maxTokens, keeping [CLS] and [SEP]", async () => {
    const embedder = await createOnnxEmbedder({ modelDir: dir, maxTokens: 3 });
    const [v] = await embedder.embed(["happy customer late"]);
    Array.from(v!).forEach((x, d) => expect(x).toBeCloseTo(expected(["[CLS]", "happy", "[SEP]"])[d]!, 5));
  });

  test("the model id follows the weights, so another model in the folder asks for a reembed", async () => {
    const a = await createOnnxEmbedder({ modelDir: dir });
    expect(a.modelId).toMatch(/^onnx-lifeline-onnx-\w+-[0-9a-f]{12}$/);
    expect((await createOnnxEmbedder({ modelDir: dir })).modelId).toBe(a.modelId);
  });

  test("EMBEDDINGS_PROVIDER=onnx uses the folder; without one the setting is named", async () => {
    const embedder = await createEmbedder(loadConfig({ EMBEDDINGS_PROVIDER: "onnx", LIFELINE_ONNX_MODEL_DIR: dir, LOG_LEVEL: "silent" }));
    expect(embedder.dimensions).toBe(D);
    expect(() => loadConfig({ EMBEDDINGS_PROVIDER: "onnx" })).toThrow(/LIFELINE_ONNX_MODEL_DIR/);
  });

  test("a folder whose tokenizer is not WordPiece is refused with what is supported", async () => {
    const other = mkdtempSync(join(tmpdir(), "lifeline-onnx-bpe-"));
    try {
      writeFileSync(join(other, "model.onnx"), tinyModel());
      writeFileSync(join(other, "tokenizer.json"), JSON.stringify({ model: { type: "BPE", vocab: {} } }));
      expect(createOnnxEmbedder({ modelDir: other })).rejects.toThrow(/BPE is not supported.*WordPiece/);
      expect(createOnnxEmbedder({ modelDir: join(other, "missing") })).rejects.toThrow(/no model.onnx/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
