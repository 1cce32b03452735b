/**
 * A checkpoint that cannot be used. The message always names the file and, where there is one, the field or
 * tensor at fault, so that a user who pointed RepoKV at the wrong folder knows what to fix.
 */
export class CheckpointError extends Error {
  constructor(
    message: string,
    /** The file at fault (absolute or as given). */
    readonly file: string,
    /** The JSON field or tensor name at fault, when there is one. */
    readonly field?: string,
  ) {
    super(`${file}${field ? ` [${field}]` : ''}: ${message}`);
    this.name = 'CheckpointError';
  }
}
