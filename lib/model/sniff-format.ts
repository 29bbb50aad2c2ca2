/** Formats commonly passed by mistake for an onnx model, recognised by their first bytes. */
const SIGNATURES: readonly { readonly format: string; readonly test: (head: string) => boolean }[] = [
  { format: 'a png image', test: (h) => h.startsWith('\x89PNG') },
  { format: 'a jpeg image', test: (h) => h.startsWith('\xff\xd8\xff') },
  { format: 'a zip archive (a pytorch .pt or keras file?)', test: (h) => h.startsWith('PK\x03\x04') },
  { format: 'a gzip archive', test: (h) => h.startsWith('\x1f\x8b') },
  { format: 'an hdf5 file (a keras .h5 model?)', test: (h) => h.startsWith('\x89HDF') },
  {
    format: 'a pickle (a pytorch or scikit-learn model?)',
    test: (h) => h.startsWith('\x80') && h.charCodeAt(1) <= 5,
  },
  { format: 'onnx text format; convert it to the binary format', test: (h) => /^\s*ir_version\s*:/.test(h) },
  { format: 'json', test: (h) => /^\s*[{[]/.test(h) },
  { format: 'html', test: (h) => /^\s*<(!doctype|html)/i.test(h) },
  { format: 'a git lfs pointer; run git lfs pull', test: (h) => h.startsWith('version https://git-lfs') },
];

/**
 * Names the format of a file that is not an onnx model, from its first bytes, for error
 * messages: `json`, `a png image`, …; `text` for other printable content; undefined otherwise.
 */
export function sniffFormat(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.subarray(0, 64)).toString('latin1');
  const known = SIGNATURES.find((s) => s.test(head));
  if (known) return known.format;
  return /^[\t\n\r\x20-\x7e]+$/.test(head) ? 'text' : undefined;
}
