/**
 * A small builder for ONNX graphs: named values, nodes, constants and weights. Weights are written as ONNX
 * external data (one `weights.bin` beside `model.onnx`), so graphs for multi-gigabyte checkpoints stay under
 * protobuf's 2 GB limit and onnxruntime can map them instead of parsing them out of the protobuf.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AttributeType,
  type AttributeJson,
  type Dim,
  encodeModel,
  type NodeJson,
  type TensorProtoJson,
  TensorDataType,
  type ValueInfoJson,
  valueInfo,
} from './onnx-proto';

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

export interface WeightSource {
  name: string;
  dims: number[];
  /** Element type; default float32. */
  dataType?: TensorDataType;
  /**
   * Produces the data (float32; float16 bits for FLOAT16; uint8 for quantized codes); called once, while the weight
   * file is written.
   */
  read(): Float32Array | Uint16Array | Uint8Array;
}

/** The graph's parts as live arrays, for passes that rewrite a whole built graph (kernels/float16-graph.ts). */
export interface GraphParts {
  nodes: NodeJson[];
  /** Small inline tensors (rawData). */
  constants: TensorProtoJson[];
  weights: WeightSource[];
  inputs: ValueInfoJson[];
  outputs: ValueInfoJson[];
}

export const ONNX_OPSET = 18;
export const WEIGHTS_FILE = 'weights.bin';
/** onnxruntime maps external data in place when tensors are aligned; 64 bytes suits every SIMD width. */
const WEIGHT_ALIGNMENT = 64;

function attribute(name: string, value: AttrValue): AttributeJson {
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.FLOATS, floats: value.floats };
}

export class GraphBuilder {
  private readonly nodes: NodeJson[] = [];
  private readonly constants: TensorProtoJson[] = [];
  private readonly weights: WeightSource[] = [];
  private readonly inputs: ValueInfoJson[] = [];
  private readonly outputs: ValueInfoJson[] = [];
  private readonly constantCache = new Map<string, string>();
  private counter = 0;
  private scope = '';

  constructor(readonly graphName: string) {}

  /** Prefixes node and value names made inside `fn`, so the graph reads like the checkpoint (`model.layers.3/...`). */
  within<T>(scope: string, fn: () => T): T {
    const saved = this.scope;
    this.scope = scope;
    try {
      return fn();
    } finally {
      this.scope = saved;
    }
  }

  /** The live parts of the graph: a pass may rewrite them in place before `save`. */
  parts(): GraphParts {
    return {
      nodes: this.nodes,
      constants: this.constants,
      weights: this.weights,
      inputs: this.inputs,
      outputs: this.outputs,
    };
  }

  input(name: string, elemType: TensorDataType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Declares `value` as a graph output under `name` (an Identity node gives it the public name). */
  output(name: string, value: string, elemType: TensorDataType, dims: Dim[]): void {
    this.nodes.push({ name: `output/${name}`, opType: 'Identity', input: [value], output: [name], attribute: [] });
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  weight(source: WeightSource): string {
    this.weights.push(source);
    return source.name;
  }

  /** A small constant tensor stored inline; identical constants are shared. */
  constant(values: number[] | Float32Array, elemType: TensorDataType, dims: number[]): string {
    const key = `${elemType}:${dims.join('x')}:${Array.from(values).join(',')}`;
    const cached = this.constantCache.get(key);
    if (cached) return cached;
    const name = `const/${this.constantCache.size}`;
    let raw: Uint8Array;
    if (elemType === TensorDataType.INT64) {
      const a = new BigInt64Array(values.length);
      values.forEach((v, i) => (a[i] = BigInt(v)));
      raw = new Uint8Array(a.buffer);
    } else if (elemType === TensorDataType.FLOAT) {
      raw = new Uint8Array(Float32Array.from(values).buffer);
    } else if (elemType === TensorDataType.INT32) {
      raw = new Uint8Array(Int32Array.from(values).buffer);
    } else {
      throw new Error(`internal error: constant of element type ${elemType} not supported`);
    }
    this.constants.push({ name, dims, dataType: elemType, rawData: raw });
    this.constantCache.set(key, name);
    return name;
  }

  ints(values: number[]): string {
    return this.constant(values, TensorDataType.INT64, [values.length]);
  }

  scalar(value: number): string {
    return this.constant([value], TensorDataType.FLOAT, []);
  }

  /** Adds one node; returns its single output name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, domain?: string): string {
    return this.opN(opType, inputs, 1, attrs, domain)[0]!;
  }

  /**
   * Adds one node with `outputs` outputs. An empty input name marks an omitted optional input; `outputs` as a list
   * of flags omits the outputs flagged false (their names are empty, so the kernel does not compute them).
   */
  opN(
    opType: string,
    inputs: string[],
    outputs: number | readonly boolean[],
    attrs: Record<string, AttrValue> = {},
    domain?: string,
  ): string[] {
    const id = this.counter++;
    const base = `${this.scope ? this.scope + '/' : ''}${opType}_${id}`;
    const wanted = typeof outputs === 'number' ? Array<boolean>(outputs).fill(true) : outputs;
    const outs = wanted.map((w, i) => (!w ? '' : wanted.length === 1 ? base : `${base}:${i}`));
    this.nodes.push({
      name: base,
      opType,
      domain,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /**
   * Writes `model.onnx` and its external weight file into `dir`. Both go to temporary names first and are
   * renamed into place, so a crash mid-write never leaves a graph that loads with half its weights.
   */
  save(dir: string, metadata: Record<string, string>): void {
    fs.mkdirSync(dir, { recursive: true });
    const tmpSuffix = `.tmp-${process.pid}-${Date.now()}`;
    const weightsPath = path.join(dir, WEIGHTS_FILE);
    const fd = fs.openSync(weightsPath + tmpSuffix, 'w');
    const initializers: TensorProtoJson[] = [...this.constants];
    let offset = 0;
    try {
      for (const w of this.weights) {
        const data = w.read();
        const expected = w.dims.reduce((a, b) => a * b, 1);
        if (data.length !== expected) {
          throw new Error(
            `internal error: weight ${w.name} has ${data.length} values, dims ${w.dims} need ${expected}`,
          );
        }
        const type = w.dataType ?? TensorDataType.FLOAT;
        const arrayType =
          type === TensorDataType.FLOAT ? Float32Array : type === TensorDataType.FLOAT16 ? Uint16Array : Uint8Array;
        if (!(data instanceof arrayType)) {
          throw new Error(`internal error: weight ${w.name} data does not match its element type ${w.dataType}`);
        }
        const pad = (WEIGHT_ALIGNMENT - (offset % WEIGHT_ALIGNMENT)) % WEIGHT_ALIGNMENT;
        if (pad) fs.writeSync(fd, new Uint8Array(pad));
        offset += pad;
        const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        fs.writeSync(fd, bytes);
        initializers.push({
          name: w.name,
          dims: w.dims,
          dataType: w.dataType ?? TensorDataType.FLOAT,
          dataLocation: 1,
          externalData: [
            { key: 'location', value: WEIGHTS_FILE },
            { key: 'offset', value: String(offset) },
            { key: 'length', value: String(bytes.byteLength) },
          ],
        });
        offset += bytes.byteLength;
      }
    } finally {
      fs.closeSync(fd);
    }
    const model = encodeModel({
      irVersion: 9,
      producerName: 'repokv',
      producerVersion: '1',
      opsetImport: [
        { domain: '', version: ONNX_OPSET },
        { domain: 'com.microsoft', version: 1 },
      ],
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    fs.writeFileSync(path.join(dir, 'model.onnx') + tmpSuffix, model);
    fs.renameSync(weightsPath + tmpSuffix, weightsPath);
    fs.renameSync(path.join(dir, 'model.onnx') + tmpSuffix, path.join(dir, 'model.onnx'));
  }
}
