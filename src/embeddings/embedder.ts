/** Turns texts into L2-normalised vectors; `modelId` changes whenever vectors stop being comparable. */
export type Embedder = {
  modelId: string;
  dimensions: number;
  embed(texts: string[]): Promise<Float32Array[]>;
};
