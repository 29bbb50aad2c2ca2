import fs from 'node:fs';
import path from 'node:path';
import { type BuildContext, IMAGE_METADATA_FILE, type ImageMetadata, isCopiedFile } from '../render';

/**
 * Writes a build context into `dir`, replacing whatever was there: files from memory are written,
 * the model is copied (a copy-on-write clone where the file system can). A copy whose size differs
 * from the source's fails. The metadata `modelfab build` reads goes in {@link IMAGE_METADATA_FILE}.
 *
 * @returns the absolute path of the folder
 */
export function writeBuildContext(dir: string, context: BuildContext, metadata?: ImageMetadata): string {
  const absolute = path.resolve(dir);
  fs.rmSync(absolute, { recursive: true, force: true });
  fs.mkdirSync(absolute, { recursive: true });
  for (const file of context.files) {
    const target = path.join(absolute, ...file.path.split('/'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (isCopiedFile(file)) {
      fs.copyFileSync(file.copyFrom, target, fs.constants.COPYFILE_FICLONE);
      const [from, to] = [fs.statSync(file.copyFrom).size, fs.statSync(target).size];
      if (from !== to) {
        throw new Error(
          `copying ${file.copyFrom} to ${target} wrote ${to} of ${from} bytes; check the free space of ${absolute}`,
        );
      }
    } else {
      fs.writeFileSync(target, file.content);
    }
  }
  if (metadata) {
    fs.writeFileSync(path.join(absolute, IMAGE_METADATA_FILE), `${JSON.stringify(metadata, null, 2)}\n`);
  }
  return absolute;
}
