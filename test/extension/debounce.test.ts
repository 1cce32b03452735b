import { describe, expect, it } from 'vitest';
import { AdaptiveDebouncer, debounceOptionsFromSetting } from '../../src/extension/completion/debounce';
import { FakeClock } from './fake-clock';

function typeAt(debouncer: AdaptiveDebouncer, clock: FakeClock, gapMs: number, keys: number): void {
  for (let i = 0; i < keys; i++) {
    clock.advance(gapMs);
    debouncer.recordKeystroke();
  }
}

/** Settles a promise's state without waiting: true/false once resolved, 'pending' otherwise. */
async function state(p: Promise<boolean>): Promise<boolean | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

describe('AdaptiveDebouncer delay', () => {
  it('waits the minimum on the first keystroke and after a pause', () => {
    const clock = new FakeClock();
    const d = new AdaptiveDebouncer({ clock });
    expect(d.currentDelay()).toBe(100);
    typeAt(d, clock, 40, 10);
    expect(d.currentDelay()).toBe(500);
    clock.advance(5000);
    d.recordKeystroke();
    expect(d.currentDelay()).toBe(100);
  });

  it('waits longer the faster the user types, within [min, max]', () => {
    const delays = [30, 60, 120, 230, 400, 900].map((gap) => {
      const clock = new FakeClock();
      const d = new AdaptiveDebouncer({ clock });
      typeAt(d, clock, gap, 8);
      return d.currentDelay();
    });
    expect(delays[0]).toBe(500);
    expect(delays[1]).toBe(500);
    expect(delays[4]).toBe(100);
    expect(delays[5]).toBe(100);
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeLessThanOrEqual(delays[i - 1]!);
    expect(delays[2]!).toBeGreaterThan(100);
    expect(delays[2]!).toBeLessThan(500);
  });

  it('is robust to one hesitation in a fast burst (median, not mean)', () => {
    const clock = new FakeClock();
    const d = new AdaptiveDebouncer({ clock });
    typeAt(d, clock, 50, 6);
    typeAt(d, clock, 900, 1);
    expect(d.currentDelay()).toBe(500);
  });

  it('answers quickly once the user has been idle for a pause, even after a fast burst', () => {
    const clock = new FakeClock();
    const d = new AdaptiveDebouncer({ clock });
    typeAt(d, clock, 40, 10);
    clock.advance(1500);
    expect(d.currentDelay()).toBe(100);
  });

  it('maps the debounceMs setting to a floor and a bounded ceiling', () => {
    expect(debounceOptionsFromSetting(100)).toMatchObject({ minMs: 100, maxMs: 500 });
    expect(debounceOptionsFromSetting(300)).toMatchObject({ minMs: 300, maxMs: 1000 });
    expect(debounceOptionsFromSetting(0)).toMatchObject({ minMs: 0, maxMs: 0 });
  });
});

describe('AdaptiveDebouncer wait', () => {
  it('resolves true after the current delay and not before', async () => {
    const clock = new FakeClock();
    const d = new AdaptiveDebouncer({ clock });
    const p = d.wait();
    clock.advance(99);
    expect(await state(p)).toBe('pending');
    clock.advance(1);
    expect(await state(p)).toBe(true);
  });

  it('a new wait supersedes the pending one', async () => {
    const clock = new FakeClock();
    const d = new AdaptiveDebouncer({ clock });
    const first = d.wait();
    clock.advance(50);
    const second = d.wait();
    expect(await state(first)).toBe(false);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(100);
    expect(await state(second)).toBe(true);
  });

  it('cancel() and an abort signal end the wait with false and clear the timer', async () => {
    const clock = new FakeClock();
    const d = new AdaptiveDebouncer({ clock });
    const a = d.wait();
    d.cancel();
    expect(await state(a)).toBe(false);
    expect(clock.pendingTimers).toBe(0);

    const controller = new AbortController();
    const b = d.wait(controller.signal);
    controller.abort();
    expect(await state(b)).toBe(false);
    expect(clock.pendingTimers).toBe(0);

    expect(await d.wait(controller.signal)).toBe(false);
  });

  it('uses the delay computed from the rhythm at the time of the call', async () => {
    const clock = new FakeClock();
    const d = new AdaptiveDebouncer({ clock });
    typeAt(d, clock, 40, 8);
    const p = d.wait();
    clock.advance(499);
    expect(await state(p)).toBe('pending');
    clock.advance(1);
    expect(await state(p)).toBe(true);
  });

  it('reset() forgets the rhythm', () => {
    const clock = new FakeClock();
    const d = new AdaptiveDebouncer({ clock });
    typeAt(d, clock, 40, 8);
    d.reset();
    expect(d.currentDelay()).toBe(100);
  });
});
