/**
 * A small seeded pseudo-random generator (mulberry32): the same seed always gives the same
 * sequence, on every platform, so benchmark inputs are reproducible byte for byte.
 */

/** A generator of 32-bit unsigned integers seeded by `seed` (any number; only its low 32 bits count). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A generator of floats in [0, 1) seeded by `seed`: mulberry32's integers over 2^32. */
export function uniformRandom(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}
