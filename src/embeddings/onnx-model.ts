import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Embedder } from "./embedder";
import { l2NormaliseInPlace } from "./l2-normalise";
import { loadWordPiece } from "./wordpiece";

export type OnnxEmbedderOptions = {
  /** Folder with model.onnx (or onnx/model.onnx) and tokenizer.json or vocab.txt. */
  modelDir: string;
  /** @defaultValue 256 */
  maxTokens?: number;
  /** Texts per inference call. @defaultValue 32 */
  batchSize?: number;
};

/**
 * A sentence model brought by the deployment (for instance an exported all-MiniLM-L6-v2),
 * run on the CPU by onnxruntime-node, loaded only when this provider is chosen. A model that
 * outputs `sentence_embedding` is used as is; otherwise its first output (token states) is
 * mean-pooled over the attention mask. Vectors are L2-normalised.
 */
export async function createOnnxEmbedder(opts: OnnxEmbedderOptions): Promise<Embedder> {
  const modelPath = [join(opts.modelDir, "model.onnx"), join(opts.modelDir, "onnx", "model.onnx")].find((p) => existsSync(p));
  if (!modelPath) throw new Error(`${opts.modelDir}: no model.onnx (nor onnx/model.onnx) found`);
  const tokenizer = loadWordPiece(opts.modelDir);
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: ["cpu"], intraOpNumThreads: 1 });
  const maxTokens = opts.maxTokens ?? 256;
  const batchSize = opts.batchSize ?? 32;
  const output = session.outputNames.includes("sentence_embedding") ? "sentence_embedding" : session.outputNames[0]!;

  async function embedBatch(texts: string[]): Promise<Float32Array[]> {
    const encoded = texts.map((t) => tokenizer.encode(t, maxTokens));
    const length = Math.max(...encoded.map((e) => e.length));
    const ids = new BigInt64Array(texts.length * length).fill(BigInt(tokenizer.padId));
    const mask = new BigInt64Array(texts.length * length);
    encoded.forEach((e, row) => e.forEach((id, i) => {
      ids[row * length + i] = BigInt(id);
      mask[row * length + i] = 1n;
    }));
    const dims = [texts.length, length];
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
      input_ids: new ort.Tensor("int64", ids, dims),
      attention_mask: new ort.Tensor("int64", mask, dims),
    };
    if (session.inputNames.includes("token_type_ids")) feeds.token_type_ids = new ort.Tensor("int64", new BigInt64Array(ids.length), dims);
    const result = (await session.run(feeds))[output]!;
    const data = result.data as Float32Array;
    if (result.dims.length === 2) {
      const d = Number(result.dims[1]);
      return texts.map((_, row) => unit(data.slice(row * d, (row + 1) * d)));
    }
    // Token states [batch, tokens, d]: the mean over the text's real tokens.
    const d = Number(result.dims[2]);
    return encoded.map((e, row) => {
      const out = new Float32Array(d);
      for (let i = 0; i < e.length; i++) for (let j = 0; j < d; j++) out[j]! += data[(row * length + i) * d + j]!;
      return unit(out);
    });
  }

  const embed = async (texts: string[]): Promise<Float32Array[]> => {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += batchSize) out.push(...(await embedBatch(texts.slice(i, i + batchSize))));
    return out;
  };
  const [probe] = await embed(["dimensions"]);
  // The weights' hash names the model: other weights in the same folder are another model.
  const digest = createHash("sha256").update(readFileSync(modelPath)).digest("hex").slice(0, 12);
  return { modelId: `onnx-${basename(opts.modelDir)}-${digest}`, dimensions: probe!.length, embed };
}

function unit(v: Float32Array): Float32Array {
  if (!l2NormaliseInPlace(v)) v[0] = 1;
  return v;
}
