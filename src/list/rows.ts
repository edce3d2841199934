// What `entropix list` shows: one row per model, whichever source found it. A source (the bundled
// models now; cached downloads later) only has to return rows; the renderer does not care where
// they came from.

export interface ModelRow {
  /** What to pass to --model. */
  name: string;
  /** Which source found it, e.g. "bundled". */
  source: string;
  path: string;
  /** True for the model `generate` runs without --model. */
  isDefault: boolean;
  /** Bytes of the folder's files, without entropix's own derived copies (patched .taps.onnx). */
  sizeBytes: number | null;
  /** The decoder variant a plain run picks (fp32, fp16, q8, …); for a Hugging Face snapshot, every variant it holds. */
  dtype: string | null;
  /** Elements of the ONNX file's weights (parameters for fp32/fp16 exports). */
  parameters: number | null;
  contextLength: number | null;
  attentionSource: "taps" | "none" | null;
  attentionNote: string | null;
  /** A current calibrated threshold profile exists (beside the model or in the cache). */
  calibrated: boolean | null;
  /** Why the row is incomplete (the folder could not be read as a model). */
  problem: string | null;
}

export interface ModelSource {
  /** Short name of the source, shown in the SOURCE column. */
  readonly name: string;
  rows(): Promise<ModelRow[]>;
  /** Lines shown under the table once rows() ran (e.g. how many cached repos were skipped). */
  notes?(): string[];
}

/** Rows of every source, in the sources' order. */
export async function collectRows(sources: ModelSource[]): Promise<ModelRow[]> {
  const all: ModelRow[] = [];
  for (const s of sources) all.push(...(await s.rows()));
  return all;
}
