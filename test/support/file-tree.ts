import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Every file under `dir`, relative, '/'-separated, sorted, with its sha256. */
export function fileTree(dir: string): Array<[string, string]> {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const full = path.join(e.parentPath, e.name);
      return [path.relative(dir, full).split(path.sep).join('/'), sha256File(full)] as [string, string];
    })
    .sort(([a], [b]) => (a < b ? -1 : 1));
}
