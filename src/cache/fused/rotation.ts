/**
 * The orthogonal rotation of the fused layout (QuaRot, arXiv 2404.00456): the normalized Walsh–Hadamard matrix
 * H of the head size, H = Hᵀ = H⁻¹. Keys are stored as rotate((k − μ) / s) and the graph multiplies the queries
 * by H, so (q ⊙ s)·H·(((k − μ)/s)·H)ᵀ = (q ⊙ s)·((k − μ)/s)ᵀ exactly; values are stored as v·H and the block's
 * context P·(V·H) is multiplied by H once more, giving P·V. Rotating spreads a token's outlier channels over all
 * channels of its per-token key block, so one large channel no longer sets the step of every other one.
 *
 * The rotation is applied in float64 and rounded to float32 once: at 16 bits a rotated-and-back block matches
 * the original within float32 rounding (test/cache/fused-rotation.test.ts).
 */

export type KvRotation = 'none' | 'hadamard';

/** Throws unless `d` is a power of two (the Sylvester construction of H). */
export function checkRotationSize(d: number): void {
  if (!(d >= 1 && (d & (d - 1)) === 0))
    throw new RangeError(`Hadamard rotation needs a power-of-two head size, got ${d}`);
}

/** H as a dense [d, d] row-major matrix (for the graph's constant). */
export function hadamardMatrix(d: number): Float32Array {
  checkRotationSize(d);
  const out = new Float32Array(d * d);
  const norm = 1 / Math.sqrt(d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      // Sylvester: H[i][j] = (−1)^popcount(i & j).
      let bits = i & j;
      let parity = 0;
      while (bits) {
        parity ^= bits & 1;
        bits >>= 1;
      }
      out[i * d + j] = parity ? -norm : norm;
    }
  }
  return out;
}

/** Each row of `x` [rows, d] multiplied by H (the fast Walsh–Hadamard transform), into a new array. */
export function rotateRows(x: Float32Array, rows: number, d: number): Float32Array {
  checkRotationSize(d);
  if (x.length < rows * d) throw new RangeError(`rotateRows: ${x.length} values cannot hold ${rows} × ${d}`);
  const out = new Float32Array(rows * d);
  const row = new Float64Array(d);
  const norm = 1 / Math.sqrt(d);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < d; c++) row[c] = x[r * d + c]!;
    for (let len = 1; len < d; len <<= 1) {
      for (let i = 0; i < d; i += len << 1) {
        for (let j = i; j < i + len; j++) {
          const a = row[j]!;
          const b = row[j + len]!;
          row[j] = a + b;
          row[j + len] = a - b;
        }
      }
    }
    for (let c = 0; c < d; c++) out[r * d + c] = row[c]! * norm;
  }
  return out;
}
