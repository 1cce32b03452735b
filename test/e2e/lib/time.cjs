/* The script's clock and its bounded waits: timestamped log lines, sleep, and polling until something holds. */
'use strict';

const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const log = (...a) => console.log(`[${elapsed()}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Thrown inside an `until` callback to stop waiting at once (an error shown by the product, say). */
class Fatal extends Error {}

/** Polls `fn` until it returns a truthy value, or throws `what` after `seconds`. */
async function until(what, seconds, fn, intervalMs = 250) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${seconds} s waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

module.exports = { elapsed, log, sleep, Fatal, until };
