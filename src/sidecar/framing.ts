/**
 * A guard in front of vscode-jsonrpc's StreamMessageReader. That reader trusts its input: bytes that are not a
 * `Content-Length` frame make it consume the next good message's header as garbage and lose that message (and a
 * request whose answer never comes hangs its caller), and an unparsable body only raises an error event that
 * nobody answers. This stream re-frames stdin itself and passes on only well-formed frames holding a JSON-RPC
 * message; anything else is dropped up to the next plausible header and reported once per bad run, so the server
 * can answer it with a JSON-RPC error (-32700 parse error, -32600 invalid request) and carry on.
 */
import { Transform, type TransformCallback } from 'node:stream';

export interface InvalidInput {
  /** -32700 (unparsable bytes or JSON) or -32600 (JSON that is not a JSON-RPC message). */
  code: number;
  message: string;
  /** The request id, when the bad message had a usable one; null otherwise (as JSON-RPC prescribes). */
  id: number | string | null;
}

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

/** Bodies above this are refused (a document of this size is not something to complete in anyway). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** A header block longer than this is not ours. */
const MAX_HEADER_BYTES = 1024;
const HEADER_START = /content-(?:length|type)\s*:/i;
/**
 * A header inside what should be a body. Raw CR LF cannot occur inside a JSON string, and outside strings this
 * text is not JSON, so its presence means the body is bogus (a wrong length) and a new frame starts there.
 */
const EMBEDDED_HEADER = /content-length\s*:\s*\d+\r\n/i;
const HEADER_END = '\r\n\r\n';

export class FrameGuard extends Transform {
  private buffer = Buffer.alloc(0);
  /** The bytes of the frame being read: its header length and body length, once the header is parsed. */
  private frame: { headerBytes: number; bodyBytes: number } | undefined;
  /** Set while dropping a bad run, so that one run yields one report however it was chunked. */
  private dropping = false;

  constructor(private readonly onInvalid: (problem: InvalidInput) => void) {
    super();
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, done: TransformCallback): void {
    this.buffer = Buffer.concat([this.buffer, typeof chunk === 'string' ? Buffer.from(chunk) : chunk]);
    try {
      while (this.step());
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  /** Consumes what it can of the buffer; true when it should be called again. */
  private step(): boolean {
    if (!this.frame) return this.readHeader();
    const { headerBytes, bodyBytes } = this.frame;
    const have = this.buffer.length - headerBytes;
    const partialBody = this.buffer.toString('latin1', headerBytes, headerBytes + Math.min(have, bodyBytes));
    const embedded = EMBEDDED_HEADER.exec(partialBody);
    if (embedded) {
      this.frame = undefined;
      this.discard(headerBytes + embedded.index, 'a frame shorter than its Content-Length');
      return true;
    }
    if (have < bodyBytes) return false;
    const end = headerBytes + bodyBytes;
    this.frame = undefined;
    const body = this.buffer.subarray(headerBytes, end);
    const problem = checkMessage(body.toString('utf8'));
    if (problem) {
      this.report(problem);
      this.dropping = false;
    } else {
      this.push(this.buffer.subarray(0, end));
      this.dropping = false;
    }
    this.buffer = this.buffer.subarray(end);
    return true;
  }

  private readHeader(): boolean {
    const text = this.buffer.toString('latin1');
    const start = text.search(HEADER_START);
    if (start < 0) {
      // Keep a tail that could be the beginning of a header split across chunks.
      const keep = Math.min(this.buffer.length, 16);
      if (this.buffer.length > keep) this.discard(this.buffer.length - keep, 'bytes that are not a JSON-RPC frame');
      return false;
    }
    if (start > 0) {
      this.discard(start, 'bytes that are not a JSON-RPC frame');
      return true;
    }
    const end = text.indexOf(HEADER_END);
    if (end < 0) {
      if (text.length > MAX_HEADER_BYTES) this.discard(1, 'an overlong header');
      return text.length > MAX_HEADER_BYTES;
    }
    const length = contentLength(text.slice(0, end));
    if (length === undefined) {
      this.discard(end + HEADER_END.length, 'a header without a valid Content-Length');
      return true;
    }
    this.frame = { headerBytes: end + HEADER_END.length, bodyBytes: length };
    return true;
  }

  private discard(bytes: number, what: string): void {
    // Stray line breaks between frames are common from hand-written clients and harmless: drop them silently.
    const harmless = this.buffer.subarray(0, bytes).toString('latin1').trim() === '';
    this.buffer = this.buffer.subarray(bytes);
    if (harmless) return;
    if (!this.dropping) this.report({ code: PARSE_ERROR, message: `Parse error: dropped ${what}`, id: null });
    this.dropping = true;
  }

  private report(problem: InvalidInput): void {
    try {
      this.onInvalid(problem);
    } catch {
      // Reporting is best effort: a failing reporter must not stop the reading of the next message.
    }
  }
}

function contentLength(header: string): number | undefined {
  let length: number | undefined;
  for (const line of header.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d{1,9}$/.test(value)) return undefined;
      length = Number(value);
    } else if (name !== 'content-type') {
      return undefined;
    }
  }
  return length !== undefined && length <= MAX_BODY_BYTES ? length : undefined;
}

/** Why a frame's body is not a JSON-RPC message vscode-jsonrpc can handle, or undefined when it is one. */
export function checkMessage(body: string): InvalidInput | undefined {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch (err) {
    return { code: PARSE_ERROR, message: `Parse error: ${(err as Error).message}`, id: null };
  }
  if (Array.isArray(message))
    return { code: INVALID_REQUEST, message: 'Invalid Request: batches are not supported', id: null };
  if (typeof message !== 'object' || message === null) {
    return { code: INVALID_REQUEST, message: 'Invalid Request: a message must be a JSON object', id: null };
  }
  const m = message as Record<string, unknown>;
  const rawId = m['id'];
  const id = typeof rawId === 'number' || typeof rawId === 'string' ? rawId : null;
  if (m['jsonrpc'] !== '2.0') return { code: INVALID_REQUEST, message: 'Invalid Request: "jsonrpc" must be "2.0"', id };
  if ('method' in m) {
    if (typeof m['method'] !== 'string')
      return { code: INVALID_REQUEST, message: 'Invalid Request: "method" must be a string', id };
    if (rawId !== undefined && id === null && rawId !== null) {
      return { code: INVALID_REQUEST, message: 'Invalid Request: "id" must be a number or a string', id: null };
    }
    const params = m['params'];
    if (params !== undefined && (typeof params !== 'object' || params === null)) {
      return { code: INVALID_REQUEST, message: 'Invalid Request: "params" must be an object or an array', id };
    }
    // vscode-jsonrpc reads `params.id` of a cancellation before any check of its own, and throws without one.
    if (m['method'] === '$/cancelRequest') {
      const cancelId = (params as Record<string, unknown> | undefined)?.['id'];
      if (typeof cancelId !== 'number' && typeof cancelId !== 'string') {
        return { code: INVALID_REQUEST, message: 'Invalid Request: $/cancelRequest needs params.id', id };
      }
    }
    return undefined;
  }
  // A response (to a request the sidecar sent): needs an id and a result or an error.
  if ('result' in m || 'error' in m) return undefined;
  return { code: INVALID_REQUEST, message: 'Invalid Request: neither a request, a notification nor a response', id };
}
