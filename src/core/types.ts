// Shared shapes: sparse matrices, datasets and the training-backend contract.

/** A sparse matrix in compressed sparse row form. Never densified. */
export interface Csr {
  nRows: number;
  nCols: number;
  /** rowPtr: nRows+1 offsets into colIdx/values; row i is [rowPtr[i], rowPtr[i+1]). */
  rowPtr: Uint32Array;
  /** colIdx: nnz column (feature bucket) indices, in the order the n-grams first appear. */
  colIdx: Uint32Array;
  /** values: nnz feature values (counts before weighting, weighted values after). */
  values: Float32Array;
}

/** One labelled review as read from the archive. */
export interface Review {
  /** "train" or "test" */
  split: "train" | "test";
  /** 1 = positive, 0 = negative */
  label: 0 | 1;
  /** star rating from the file name (1-4 negative, 7-10 positive) */
  rating: number;
  /** review id from the file name */
  id: number;
  text: string;
}

/** A split ready for a backend: features and 0/1 labels, row i of x has label y[i]. */
export interface LabelledSet {
  name: string;
  x: Csr;
  y: Uint8Array;
  /**
   * When known: no row uses a column at or past this one (with columns numbered by use,
   * the number of columns used). A backend may then skip finding it in the rows.
   */
  columnsUsed?: number;
}

/** Confusion counts plus summed loss: the few numbers an evaluation reads back. */
export interface EvalSums {
  n: number;
  /** sum over examples of binary cross-entropy (natural log) */
  lossSum: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** Data handed to a backend once, before training. */
export interface BackendData {
  /** training rows, already in a fixed seeded order; batch k is rows [k*batchSize, (k+1)*batchSize) */
  train: LabelledSet;
  /**
   * Only for a backend that declares takesRowOrder: the seeded order is this one, and
   * `train` is not in it. Row k of the training set is row rowOrder[k] of `train`, as if
   * the backend had been given selectRows(train, rowOrder): batches, dropout masks and
   * scores all see that order. (So runs in different orders can share one copy of the rows.)
   */
  rowOrder?: Uint32Array;
  batchSize: number;
  /**
   * report the mean of each epoch's iterates (Polyak-Ruppert averaging) instead of the
   * last iterate; training itself continues from the last iterate
   */
  average?: boolean;
  /**
   * feature dropout while training (see dropoutKeeps in src/cpu-reference/logistic.ts):
   * the mask of epoch e (1, 2, ... counted from load) is a hash of (seed, e, row, column)
   */
  dropout?: { rate: number; seed: number };
  /** sets evaluated at the end of each epoch (validation, test) */
  evalSets: LabelledSet[];
}

/**
 * A training backend: the CPU reference or WebGPU. Both run the same maths on the
 * same batch order, so the training loop, its records and the model files do not
 * depend on which one ran.
 */
export interface TrainingBackend {
  readonly kind: "cpu" | "webgpu";
  /** a human-readable device name, e.g. the GPU adapter's description */
  readonly deviceName: string;
  /** Set when load() accepts BackendData.rowOrder. */
  readonly takesRowOrder?: boolean;
  /** Upload the data once and set weights and bias to zero. */
  load(data: BackendData): Promise<void>;
  /**
   * One epoch of mini-batch gradient descent, visiting batches in batchOrder.
   * Returns the mean over batches of the batch's mean cross-entropy, each measured
   * before that batch's update.
   */
  trainEpoch(batchOrder: Uint32Array, lr: number, l2: number): Promise<number>;
  /** Loss sum and confusion counts (threshold 0.5) for a set given to load(), at the reported weights. */
  evaluate(setName: string): Promise<EvalSums>;
  /** P(positive) for every row of a set given to load(). */
  predict(setName: string): Promise<Float32Array>;
  /** The reported weights and bias (the epoch's average when averaging, else the current iterate; a copy). */
  readWeights(): Promise<{ weights: Float32Array; bias: number }>;
  dispose(): void;
}
