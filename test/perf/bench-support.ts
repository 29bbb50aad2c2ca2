/**
 * What the benchmarks share: their environment knobs, progress lines, verdicts, and what they read
 * of a process from /proc.
 */
import * as fs from 'node:fs';

/** Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ). */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * A positive number from the environment variable `name`, or `fallback` when it is unset; `must`
 * says what it must be (a `must` that starts with "a whole" also asks for an integer).
 */
export function positiveEnv(name: string, fallback: number, must: string): number {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  const whole = must.startsWith('a whole');
  if (!(value > 0) || (whole && !Number.isInteger(value))) {
    throw new Error(`${name} must be ${must}, received ${JSON.stringify(text)}; unset it for ${fallback}`);
  }
  return value;
}

/** A progress line on stderr, prefixed with the benchmark's name. */
export function progressFor(bench: string): (message: string) => void {
  return (message) => console.error(`${bench} bench: ${message}`);
}

/** `met` or `MISSED`. */
export function verdict(met: boolean): string {
  return met ? 'met' : 'MISSED';
}

/** CPU seconds (user + system) from a /proc `stat` file: a process's, or one thread's. */
function statCpuSeconds(file: string): number {
  const stat = fs.readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds a process has used, all its threads. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds of a process's main thread. */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

/** A check of an Iris answer: its `label` output must be `label`. */
export function irisLabelCheck(label: number): (answer: Buffer) => void {
  return (answer) => {
    const outputs = (
      JSON.parse(answer.toString('utf8')) as { outputs: Array<{ name: string; data: number[] }> }
    ).outputs;
    const got = outputs.find((o) => o.name === 'label')?.data[0];
    if (got !== label) throw new Error(`the server answered label ${got} for an Iris row of class ${label}`);
  };
}
