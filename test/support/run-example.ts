/**
 * Runs an example's cdk8s app as `cdk8s synth` does, in this process: from the example's folder,
 * with the output folder in CDK8S_OUTDIR (and any other env given), its stderr captured; the
 * working directory and the env are restored after.
 */
import { vi } from 'vitest';

/**
 * @param load imports the app's module (a literal import in the test, so the bundler sees it)
 * @returns what the app wrote to stderr
 */
export async function runExample(
  dir: string,
  outdir: string,
  load: () => Promise<unknown>,
  env: Readonly<Record<string, string>> = {},
): Promise<string> {
  const cwd = process.cwd();
  let stderr = '';
  vi.stubEnv('CDK8S_OUTDIR', outdir);
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  process.chdir(dir);
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    await load();
  } finally {
    write.mockRestore();
    process.chdir(cwd);
    vi.unstubAllEnvs();
  }
  return stderr;
}
