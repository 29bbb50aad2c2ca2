/**
 * lib/server settings: explicit options over `MODELFAB_*` variables over the serving config file
 * (`modelfab.json`, its model path relative to itself) over defaults from the CPU limit; the
 * digests the model must match; and the messages for bad values, with real files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModelName, SERVER_DEFAULTS, ServingConfigFileError } from '../lib/core';
import { ApiKey, ApiKeyFileError, ServerSettingsError, resolveServerSettings } from '../lib/server';
import { makeTempDir, removeDir } from './support/fixture-models';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

let dir: string;
let configFile: string;

function writeConfig(file: string, overrides: Record<string, unknown> = {}): string {
  const config = {
    format: 1,
    model: {
      name: 'iris-config',
      version: '7',
      file: 'model/iris.onnx',
      sha256: SHA_A,
      inputs: [{ name: 'input', elementType: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'label', elementType: 'int64', shape: ['batch'] }],
    },
    batching: { maxBatchSize: 16, maxQueueDelayMs: 2 },
    threads: { workers: 3, intraOpThreads: 2 },
    ...overrides,
  };
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

beforeAll(() => {
  dir = makeTempDir('modelfab-server-settings-');
  fs.mkdirSync(path.join(dir, 'image', 'model'), { recursive: true });
  configFile = writeConfig(path.join(dir, 'image', 'modelfab.json'));
});

afterAll(() => removeDir(dir));

describe('resolveServerSettings', () => {
  it('takes defaults, with threads from the CPU limit, for a model path alone', () => {
    const settings = resolveServerSettings({ modelPath: 'models/iris.onnx', cpus: 4 }, {});
    expect(settings).toEqual({
      configFile: undefined,
      modelPath: path.resolve('models/iris.onnx'),
      modelName: 'iris',
      modelVersion: '1',
      expectedSha256: [],
      host: '0.0.0.0',
      port: 8080,
      metricsPort: 9090,
      cpus: 4,
      workers: 1,
      intraOpThreads: 4,
      executionProvider: 'cpu',
      maxBatchSize: 1,
      maxQueueDelayMs: 0,
      maxQueueSize: 1024,
      maxBodyBytes: 16 * 1024 * 1024,
      bodyTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      drainSeconds: 20,
      apiKeyFile: undefined,
    });
    // The CPU limit is shared by the workers, whole CPUs, at least one each.
    expect(resolveServerSettings({ modelPath: 'm.onnx', cpus: 4, workers: 2 }, {}).intraOpThreads).toBe(2);
    expect(resolveServerSettings({ modelPath: 'm.onnx', cpus: 1.5, workers: 2 }, {}).intraOpThreads).toBe(1);
    expect(SERVER_DEFAULTS.maxBodyBytes).toBe(16_777_216);
  });

  it('names a model by its file as ModelImage does, so `modelfab serve` and the image serve the same URL', () => {
    for (const [file, name] of [
      ['model/hello_deepa.onnx', 'hello-deepa'],
      ['PP-OCRv4 Det.ONNX', 'pp-ocrv4-det'],
      ['iris.onnx', 'iris'],
    ]) {
      expect(resolveServerSettings({ modelPath: file, cpus: 1 }, {}).modelName).toBe(name);
      expect(defaultModelName(file)).toBe(name);
    }
  });

  it('reads the serving config file, its model file relative to itself', () => {
    const settings = resolveServerSettings({ cpus: 8 }, { MODELFAB_CONFIG: configFile });
    expect(settings).toMatchObject({
      configFile,
      modelPath: path.join(dir, 'image', 'model', 'iris.onnx'),
      modelName: 'iris-config',
      modelVersion: '7',
      expectedSha256: [{ sha256: SHA_A, source: `${configFile} model.sha256` }],
      workers: 3,
      intraOpThreads: 2,
      maxBatchSize: 16,
      maxQueueDelayMs: 2,
    });
  });

  it('puts MODELFAB_* variables over the config file, and options over both', () => {
    const env = {
      MODELFAB_CONFIG: configFile,
      MODELFAB_MODEL_NAME: 'iris-env',
      MODELFAB_MODEL_SHA256: SHA_B.toUpperCase(),
      MODELFAB_PORT: '8081',
      MODELFAB_METRICS_PORT: '0',
      MODELFAB_WORKERS: '2',
      MODELFAB_INTRA_OP_THREADS: '1',
      MODELFAB_EXECUTION_PROVIDER: 'cuda',
      MODELFAB_MAX_BATCH_SIZE: '32',
      MODELFAB_MAX_QUEUE_DELAY_MS: '0.5',
      MODELFAB_MAX_QUEUE_SIZE: '64',
      MODELFAB_MAX_BODY_BYTES: '1048576',
      MODELFAB_BODY_TIMEOUT_MS: '2500',
      MODELFAB_REQUEST_TIMEOUT_MS: '0',
      MODELFAB_DRAIN_SECONDS: '5',
      MODELFAB_API_KEY_FILE: 'secrets/api-key',
    };
    const fromEnv = resolveServerSettings({}, env);
    expect(fromEnv).toMatchObject({
      modelName: 'iris-env',
      modelVersion: '7',
      // The deployment's digest and the image's: the file must match both.
      expectedSha256: [
        { sha256: SHA_B, source: 'MODELFAB_MODEL_SHA256' },
        { sha256: SHA_A, source: `${configFile} model.sha256` },
      ],
      port: 8081,
      metricsPort: 0,
      workers: 2,
      intraOpThreads: 1,
      executionProvider: 'cuda',
      maxBatchSize: 32,
      maxQueueDelayMs: 0.5,
      maxQueueSize: 64,
      maxBodyBytes: 1_048_576,
      bodyTimeoutMs: 2500,
      requestTimeoutMs: 0,
      drainSeconds: 5,
      apiKeyFile: path.resolve('secrets/api-key'),
    });
    const fromOptions = resolveServerSettings(
      {
        modelName: 'iris-option',
        workers: 4,
        maxBatchSize: 8,
        port: 9000,
        modelSha256: SHA_A,
        drainSeconds: 1,
        executionProvider: 'tensorrt',
      },
      env,
    );
    expect(fromOptions).toMatchObject({
      modelName: 'iris-option',
      executionProvider: 'tensorrt',
      workers: 4,
      maxBatchSize: 8,
      port: 9000,
      drainSeconds: 1,
      expectedSha256: [
        { sha256: SHA_A, source: 'modelSha256' },
        { sha256: SHA_A, source: `${configFile} model.sha256` },
      ],
    });
    // A model file given instead of the config's: the config's digest is about another file.
    const otherModel = resolveServerSettings({ modelPath: '/m/other.onnx' }, env);
    expect(otherModel.modelPath).toBe('/m/other.onnx');
    expect(otherModel.expectedSha256).toEqual([{ sha256: SHA_B, source: 'MODELFAB_MODEL_SHA256' }]);
    expect(resolveServerSettings({}, { MODELFAB_MODEL_PATH: '/m/env.onnx' }).modelPath).toBe('/m/env.onnx');
  });

  it('reads a body limit given as a quantity, as the --max-body-bytes flag does', () => {
    const settings = resolveServerSettings({ modelPath: 'm.onnx' }, { MODELFAB_MAX_BODY_BYTES: '4Mi' });
    expect(settings.maxBodyBytes).toBe(4 * 1024 * 1024);
  });

  it('treats empty variables as unset', () => {
    const settings = resolveServerSettings(
      { modelPath: 'm.onnx', cpus: 2 },
      { MODELFAB_PORT: '', MODELFAB_WORKERS: '  ', MODELFAB_MODEL_SHA256: '', MODELFAB_CONFIG: '' },
    );
    expect(settings).toMatchObject({ port: 8080, workers: 1, expectedSha256: [], configFile: undefined });
  });

  it('rejects a bad variable naming it, the value and the fix', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [
        { MODELFAB_WORKERS: 'two' },
        'MODELFAB_WORKERS must be an integer of at least 1, received "two"; set it to a value such as 2, or unset it for the default',
      ],
      [
        { MODELFAB_WORKERS: '0' },
        'MODELFAB_WORKERS must be an integer of at least 1, received "0"; set it to a value such as 2, or unset it for the default',
      ],
      [
        { MODELFAB_EXECUTION_PROVIDER: 'gpu' },
        'MODELFAB_EXECUTION_PROVIDER must be one of cpu, cuda, tensorrt, received "gpu"; set it to a value such as cpu, or unset it for the default',
      ],
      [
        { MODELFAB_PORT: '70000' },
        'MODELFAB_PORT must be a port number from 0 to 65535 (0: any free port), received "70000"; set it to a value such as 8080, or unset it for the default',
      ],
      [
        { MODELFAB_MAX_QUEUE_DELAY_MS: '-1' },
        'MODELFAB_MAX_QUEUE_DELAY_MS must be a non-negative number of milliseconds, received "-1"; set it to a value such as 5, or unset it for the default',
      ],
      [
        { MODELFAB_REQUEST_TIMEOUT_MS: '1e3' },
        'MODELFAB_REQUEST_TIMEOUT_MS must be a non-negative number of milliseconds (0: no limit), received "1e3"; set it to a value such as 30000, or unset it for the default',
      ],
      [
        { MODELFAB_BODY_TIMEOUT_MS: 'soon' },
        'MODELFAB_BODY_TIMEOUT_MS must be a non-negative number of milliseconds (0: no deadline), received "soon"; set it to a value such as 10000, or unset it for the default',
      ],
      [
        { MODELFAB_MAX_BATCH_SIZE: '2.5' },
        'MODELFAB_MAX_BATCH_SIZE must be an integer of at least 1, received "2.5"; set it to a value such as 2, or unset it for the default',
      ],
      [
        { MODELFAB_MODEL_SHA256: 'abc' },
        'MODELFAB_MODEL_SHA256 must be the model\'s sha256 as 64 hex digits, received "abc"; set it to the digest `modelfab inspect` prints, or unset it for the default',
      ],
      [
        { MODELFAB_MODEL_NAME: 'a/b' },
        'MODELFAB_MODEL_NAME must be a non-empty name without "/", received "a/b"; set it to a value such as iris, or unset it for the default',
      ],
      [
        { MODELFAB_MAX_BODY_BYTES: '0' },
        'MODELFAB_MAX_BODY_BYTES must be a positive whole number of bytes, or a quantity such as 16Mi, received "0"; set it to a value such as 16777216, or unset it for the default',
      ],
      [
        { MODELFAB_MODEL_VERSION: 'v/1' },
        'MODELFAB_MODEL_VERSION must be a non-empty version without "/", received "v/1"; set it to a value such as 1, or unset it for the default',
      ],
    ];
    for (const [env, message] of cases) {
      expect(() => resolveServerSettings({ modelPath: 'm.onnx' }, env)).toThrow(
        new ServerSettingsError(message),
      );
    }
    expect(() => resolveServerSettings({ modelPath: 'm.onnx', maxQueueSize: 0 }, {})).toThrow(
      new ServerSettingsError(
        'maxQueueSize must be an integer of at least 1, received 0; pass a value such as 2',
      ),
    );
    for (const [options, message] of [
      [{ cpus: 0 }, 'cpus must be a positive number, received 0; pass a value such as 2'],
      [
        { host: '' },
        'host must be a host name or ip address, received ""; pass a value such as 127.0.0.1 or 0.0.0.0',
      ],
      [
        { modelName: 'a/b' },
        'modelName must be a non-empty name without "/", received "a/b"; pass a value such as iris',
      ],
      [
        { port: 8080.5 },
        'port must be a port number from 0 to 65535 (0: any free port), received 8080.5; pass a value such as 8080',
      ],
    ] as const) {
      expect(() => resolveServerSettings({ modelPath: 'm.onnx', ...options }, {})).toThrow(
        new ServerSettingsError(message),
      );
    }
    // called as the caller names it (the command line's flags)
    expect(() =>
      resolveServerSettings(
        { modelPath: 'm.onnx', maxQueueSize: 0 },
        {},
        { maxQueueSize: '--max-queue-size' },
      ),
    ).toThrow(/^--max-queue-size must be an integer of at least 1, received 0/);
  });

  it('says where to find a model when none is given', () => {
    expect(() => resolveServerSettings({}, {})).toThrow(
      new ServerSettingsError(
        'no model to serve: pass modelPath, set MODELFAB_MODEL_PATH to an .onnx file, or set MODELFAB_CONFIG to a modelfab.json',
      ),
    );
  });

  it('rejects a config file it cannot read, parse or understand', () => {
    const missing = path.join(dir, 'missing.json');
    expect(() => resolveServerSettings({}, { MODELFAB_CONFIG: missing })).toThrow(
      /^cannot read the serving config file .*missing\.json \(from MODELFAB_CONFIG\): ENOENT.*; point MODELFAB_CONFIG at the image's modelfab\.json$/,
    );
    const notJson = path.join(dir, 'not-json.json');
    fs.writeFileSync(notJson, '{ "format": 1,');
    expect(() => resolveServerSettings({ configFile: notJson }, {})).toThrow(ServerSettingsError);
    expect(() => resolveServerSettings({ configFile: notJson }, {})).toThrow(
      /is not JSON: .*; regenerate the image with modelfab$/,
    );
    // The file's settings follow the same rules as the options and variables.
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, any>;
    for (const [overrides, message] of [
      [{ threads: { workers: 0 } }, 'threads.workers must be an integer of at least 1, received 0'],
      [
        { batching: { maxBatchSize: 4, maxQueueDelayMs: -1 } },
        'batching.maxQueueDelayMs must be a non-negative number of milliseconds, received -1',
      ],
      [
        { model: { ...config.model, name: 'a/b' } },
        'model.name must be a non-empty name without "/", received "a/b"',
      ],
      [
        { model: { ...config.model, sha256: 'abc' } },
        'model.sha256 must be the model\'s sha256 as 64 hex digits, received "abc"',
      ],
    ] as const) {
      const bad = writeConfig(path.join(dir, 'bad.json'), overrides);
      expect(() => resolveServerSettings({ modelPath: 'm.onnx' }, { MODELFAB_CONFIG: bad })).toThrow(
        new ServingConfigFileError(`${bad}: ${message}; regenerate the image with modelfab`),
      );
    }
    const wrongType = writeConfig(path.join(dir, 'wrong-type.json'), { threads: { workers: '2' } });
    expect(() => resolveServerSettings({ configFile: wrongType }, {})).toThrow(
      new ServingConfigFileError(
        `${wrongType}: threads.workers must be a number, received "2"; regenerate the image`,
      ),
    );
    const wrongFormat = writeConfig(path.join(dir, 'format-2.json'), { format: 2 });
    expect(() => resolveServerSettings({ configFile: wrongFormat }, {})).toThrow(ServingConfigFileError);
  });
});

describe('ApiKey', () => {
  it('reads the key from a file and accepts it as a bearer token or X-API-Key only', () => {
    const file = path.join(dir, 'api-key');
    fs.writeFileSync(file, 's3cret-key\n');
    const key = ApiKey.fromFile(file);
    expect(key.accepts({ authorization: 'Bearer s3cret-key' })).toBe(true);
    expect(key.accepts({ authorization: 'bearer s3cret-key' })).toBe(true);
    expect(key.accepts({ 'x-api-key': 's3cret-key' })).toBe(true);
    expect(key.accepts({})).toBe(false);
    expect(key.accepts({ authorization: 'Bearer s3cret-keyx' })).toBe(false);
    expect(key.accepts({ authorization: 'Basic s3cret-key' })).toBe(false);
    expect(key.accepts({ 'x-api-key': 's3cret' })).toBe(false);
    expect(key.accepts({ 'x-api-key': '' })).toBe(false);
  });

  it('refuses a missing, empty or spaced key file', () => {
    expect(() => ApiKey.fromFile(path.join(dir, 'no-key'))).toThrow(ApiKeyFileError);
    const empty = path.join(dir, 'empty-key');
    fs.writeFileSync(empty, '\n');
    expect(() => ApiKey.fromFile(empty)).toThrow(
      new ApiKeyFileError(`the api key file ${empty} is empty; write the key into the secret`),
    );
    const spaced = path.join(dir, 'spaced-key');
    fs.writeFileSync(spaced, 'two words');
    expect(() => ApiKey.fromFile(spaced)).toThrow(/contains whitespace/);
  });
});
