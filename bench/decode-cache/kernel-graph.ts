/**
 * One layer's attention over the block for a decode step (dequantize, scores, softmax, P·V) as a standalone graph,
 * in each candidate rewrite of the KIVI graph, the float32 reference and the production fused subgraph, to measure
 * the rewrites one change at a time (kernels.ts).
 */
import { codeLookupTable } from '../../kernels/dequantize';
import { type FusedLayout, fusedBlockContext, fusedBlockInputs, fusedBlockScores } from '../../kernels/fused-attention';
import { GraphBuilder } from '../../kernels/graph-builder';
import { TensorDataType } from '../../kernels/onnx-proto';

export const KERNEL_VARIANTS = [
  'fp32-raw',
  'kivi-current',
  'kivi-f32-stats',
  'kivi-bitshift',
  'kivi-no-transpose',
  'kivi-folded',
  'fused-nbits',
] as const;
export type KernelVariant = (typeof KERNEL_VARIANTS)[number];

/**
 * Builds a graph of one layer's block attention for a decode step: queries [KV, G, 1, d] (1/√d applied) →
 * context [KV, G, 1, d], with the block given in the variant's layout. G, KV and d are the model's.
 */
export function blockKernelGraph(
  variant: KernelVariant,
  dims: {
    KV: number;
    G: number;
    d: number;
    sc: number;
    bits: 2 | 4 | 8;
    group: number;
    /** The fused layout, of which layer 0 is built. */
    layout: FusedLayout;
  },
): GraphBuilder {
  const { KV, G, d, sc, bits, group } = dims;
  const { FLOAT, FLOAT16, UINT8, INT32 } = TensorDataType;
  const g = new GraphBuilder(`block-${variant}`);
  const queries = g.input('queries', FLOAT, [KV, G, 1, d]);
  const bias = g.input('bias', FLOAT, [KV, 1, 1, sc]);
  const row = (d * bits) / 8;
  const perByte = 8 / bits;
  const softmaxContext = (scores: string, values: (probs: string) => string) => {
    const probs = g.op('Softmax', [g.op('Add', [scores, bias])], { axis: -1 });
    g.output('context', values(probs), FLOAT, [KV, G, 1, d]);
  };
  if (variant === 'fp32-raw') {
    const keys = g.input('keys', FLOAT, [KV, sc, d]);
    const values = g.input('values', FLOAT, [KV, sc, d]);
    const keysT = g.op('Unsqueeze', [g.op('Transpose', [keys], { perm: [0, 2, 1] }), g.ints([1])]);
    softmaxContext(g.op('MatMul', [queries, keysT]), (p) =>
      g.op('MatMul', [p, g.op('Unsqueeze', [values, g.ints([1])])]),
    );
    return g;
  }
  if (variant === 'fused-nbits') {
    // The production subgraph (kernels/fused-attention.ts) over layer 0's inputs.
    const block = fusedBlockInputs(g, 0, dims.layout, g.scalar(1), KV);
    const shape = { numHeads: KV * G, numKvHeads: KV, headDim: d };
    softmaxContext(fusedBlockScores(g, shape, queries, block), (p) => fusedBlockContext(g, shape, p, block));
    return g;
  }
  const statsType = variant === 'kivi-current' || variant === 'kivi-bitshift' ? FLOAT16 : FLOAT;
  const keyCodes = g.input('key_codes', UINT8, [KV, sc, row]);
  const keyMin = g.input('key_min', statsType, [KV, sc / group, d]);
  const keyScale = g.input('key_scale', statsType, [KV, sc / group, d]);
  const valueCodes = g.input('value_codes', UINT8, [KV, sc, row]);
  const valueMin = g.input('value_min', statsType, [KV, sc, d / group]);
  const valueScale = g.input('value_scale', statsType, [KV, sc, d / group]);
  const f32 = (x: string) => (statsType === FLOAT16 ? g.op('Cast', [x], { to: FLOAT }) : x);
  const unpack = (codes: string) => {
    if (variant === 'kivi-bitshift') {
      // codes [KV, sc, row, 1] >> [0, b, 2b, ..] & mask: uint8 throughout, one Cast to float at the end.
      const u8 = (values: number[], dims: number[]) => g.op('Cast', [g.constant(values, INT32, dims)], { to: UINT8 });
      const shifts = u8(
        Array.from({ length: perByte }, (_, i) => i * bits),
        [perByte],
      );
      const shifted = g.op('BitShift', [g.op('Unsqueeze', [codes, g.ints([3])]), shifts], { direction: 'RIGHT' });
      const masked = g.op('BitwiseAnd', [shifted, u8([(1 << bits) - 1], [])]);
      return g.op('Reshape', [g.op('Cast', [masked], { to: FLOAT }), g.ints([KV, -1, d])]);
    }
    const table = g.constant(codeLookupTable(bits), FLOAT, [256, perByte]);
    const unpacked = g.op('Gather', [table, g.op('Cast', [codes], { to: INT32 })], { axis: 0 });
    return g.op('Reshape', [unpacked, g.ints([KV, -1, d])]);
  };
  if (variant === 'kivi-folded') {
    // Keys: q·k̂ = Σ_c (q_c·scale_gc)·code_tc + Σ_c q_c·min_gc, so fold the group's scales into the queries and
    // multiply raw codes: no full-size Mul/Add. Codes [KV, groups, gs, d] · (q⊙scale)ᵀ [KV, groups, d, G].
    const codes = g.op('Reshape', [unpack(keyCodes), g.ints([KV, sc / group, group, d])]);
    const q = g.op('Reshape', [queries, g.ints([KV, 1, G, d])]);
    const qScaled = g.op('Transpose', [g.op('Mul', [q, g.op('Unsqueeze', [f32(keyScale), g.ints([2])])])], {
      perm: [0, 1, 3, 2],
    }); // [KV, groups, d, G]
    const partial = g.op('MatMul', [codes, qScaled]); // [KV, groups, gs, G]
    const offset = g.op('ReduceSum', [g.op('Mul', [q, g.op('Unsqueeze', [f32(keyMin), g.ints([2])])]), g.ints([3])], {
      keepdims: 0,
    }); // [KV, groups, G]
    const scoresT = g.op('Add', [partial, g.op('Unsqueeze', [offset, g.ints([2])])]); // [KV, groups, gs, G]
    const scores = g.op('Reshape', [g.op('Transpose', [scoresT], { perm: [0, 3, 1, 2] }), g.ints([KV, G, 1, sc])]);
    // Values: Σ_t p_t·v̂_tc = Σ_t (p_t·scale_tj)·code_tc + Σ_t p_t·min_tj for the channel group j of c. One
    // MatMul of all d/g scaled probability rows with the untransposed codes, then keep each group's own channels.
    const J = d / group;
    softmaxContext(scores, (p) => {
      const pt = g.op('Reshape', [p, g.ints([KV, G, sc, 1])]);
      const pScaled = g.op('Mul', [pt, g.op('Unsqueeze', [f32(valueScale), g.ints([1])])]); // [KV, G, sc, J]
      const pMin = g.op(
        'ReduceSum',
        [g.op('Mul', [pt, g.op('Unsqueeze', [f32(valueMin), g.ints([1])])]), g.ints([2])],
        {
          keepdims: 0,
        },
      ); // [KV, G, J]
      const rows = g.op('Reshape', [g.op('Transpose', [pScaled], { perm: [0, 1, 3, 2] }), g.ints([KV, G * J, sc])]);
      const all = g.op('MatMul', [rows, unpack(valueCodes)]); // [KV, G·J, d]: every row against every channel
      const eye = g.constant(
        Array.from({ length: J * J }, (_, i) => (Math.floor(i / J) === i % J ? 1 : 0)),
        FLOAT,
        [J, J, 1],
      );
      const own = g.op(
        'ReduceSum',
        [g.op('Mul', [g.op('Reshape', [all, g.ints([KV, G, J, J, group])]), eye]), g.ints([2])],
        {
          keepdims: 0,
        },
      ); // [KV, G, J, group]
      const withMin = g.op('Add', [own, g.op('Unsqueeze', [pMin, g.ints([3])])]);
      return g.op('Reshape', [withMin, g.ints([KV, G, 1, d])]);
    });
    return g;
  }
  const keysDeq = g.op('Reshape', [
    g.op('Add', [
      g.op('Mul', [
        g.op('Reshape', [unpack(keyCodes), g.ints([KV, -1, group, d])]),
        g.op('Unsqueeze', [f32(keyScale), g.ints([2])]),
      ]),
      g.op('Unsqueeze', [f32(keyMin), g.ints([2])]),
    ]),
    g.ints([KV, -1, d]),
  ]);
  const valuesDeq = g.op('Reshape', [
    g.op('Add', [
      g.op('Mul', [
        g.op('Reshape', [unpack(valueCodes), g.ints([KV, -1, d / group, group])]),
        g.op('Unsqueeze', [f32(valueScale), g.ints([3])]),
      ]),
      g.op('Unsqueeze', [f32(valueMin), g.ints([3])]),
    ]),
    g.ints([KV, -1, d]),
  ]);
  const scores =
    variant === 'kivi-no-transpose'
      ? // K̂·qᵀ [KV, sc, G] then transpose the small result, instead of transposing the block.
        g.op('Reshape', [
          g.op(
            'Transpose',
            [
              g.op('MatMul', [
                keysDeq,
                g.op('Transpose', [g.op('Reshape', [queries, g.ints([KV, G, d])])], { perm: [0, 2, 1] }),
              ]),
            ],
            { perm: [0, 2, 1] },
          ),
          g.ints([KV, G, 1, sc]),
        ])
      : g.op('MatMul', [queries, g.op('Unsqueeze', [g.op('Transpose', [keysDeq], { perm: [0, 2, 1] }), g.ints([1])])]);
  softmaxContext(scores, (p) => g.op('MatMul', [p, g.op('Unsqueeze', [valuesDeq, g.ints([1])])]));
  return g;
}
