/**
 * Where an engine that builds the image pushes it: a registry (with or without a login), or an ECR
 * repository the engine creates. Pure; throws the usual ModelfabValidationError, naming the
 * resource and the fix.
 */
import { ModelfabValidationError, parseImageReference, show } from '../core';
import { type EcrRepositorySpec } from '../render';

/** Where the image goes, resolved. `S` is how the engine holds a secret it may know only later. */
export type PushTarget<S = string> =
  | {
      readonly kind: 'registry';
      /** `server/path`, without tag. */
      readonly repository: string;
      readonly server: string;
      readonly username?: S;
      readonly password?: S;
    }
  | { readonly kind: 'ecr'; readonly repository: string; readonly ecr: EcrRepositorySpec };

/** The push-target settings of an engine that builds and pushes the image (Pulumi's ModelImage args). */
export interface PushTargetArgs<S = string> {
  readonly repository?: string;
  readonly registry?: { readonly server: string; readonly username?: S; readonly password?: S };
  readonly ecr?: boolean | { readonly keepImages?: number; readonly forceDelete?: boolean };
}
const DEFAULT_KEEP_IMAGES = 30;
/** ECR repository names: lower-case path components separated by `/`, 2 to 256 characters. */
const ECR_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** Resolves and checks where the image of the ModelImage `name` is pushed. */
export function resolvePushTarget<S>(args: PushTargetArgs<S>, name: string): PushTarget<S> {
  const fail = (prop: string, detail: string): never => {
    throw new ModelfabValidationError(name, prop, detail);
  };
  if (typeof args !== 'object' || args === null) {
    fail('args', `args must be an object, got ${show(args)}; e.g. { model: 'model/iris.onnx', ecr: true }`);
  }
  const hasEcr = args.ecr !== undefined && args.ecr !== false;
  if (hasEcr && args.registry !== undefined) {
    fail('registry', 'set either registry or ecr, not both: the image is pushed to one place');
  }
  if (!hasEcr && args.registry === undefined) {
    fail(
      'registry',
      "set registry: { server, username, password } to push to a registry, or ecr: true to create an ECR repository; e.g. registry: { server: 'ghcr.io', username: 'acme', password: token }",
    );
  }
  if (hasEcr) return ecrTarget(args, name, fail);
  const registry = args.registry as NonNullable<PushTargetArgs<S>['registry']>;
  if (typeof registry !== 'object' || registry === null) {
    fail('registry', `registry must be { server, username, password }, got ${show(registry)}`);
  }
  if (typeof registry.server !== 'string' || !/^[A-Za-z0-9.-]+(?::[0-9]+)?$/.test(registry.server)) {
    fail(
      'registry.server',
      `registry.server ${show(registry.server)} is not a registry host; use a host and optional port, e.g. 'ghcr.io' or 'localhost:5000'`,
    );
  }
  if ((registry.username === undefined) !== (registry.password === undefined)) {
    fail(
      registry.username === undefined ? 'registry.username' : 'registry.password',
      `registry has ${registry.username === undefined ? 'a password but no username' : 'a username but no password'}; set both to log in, or neither for a registry without login`,
    );
  }
  if (args.repository === undefined) {
    fail(
      'repository',
      `repository is required with registry; set it to the image's repository on ${registry.server}, e.g. '${registry.server}/acme/iris'`,
    );
  }
  const repository = args.repository as string;
  if (typeof repository !== 'string' || !repository.startsWith(`${registry.server}/`)) {
    const path = typeof repository === 'string' ? repository.replace(/^[^/]*[.:][^/]*\//, '') : 'acme/iris';
    fail(
      'repository',
      `repository ${show(repository)} is not on registry.server ${show(registry.server)}; use '${registry.server}/${path}'`,
    );
  }
  return {
    kind: 'registry',
    repository,
    server: registry.server,
    ...(registry.username !== undefined ? { username: registry.username, password: registry.password } : {}),
  };
}

function ecrTarget<S>(
  args: PushTargetArgs<S>,
  name: string,
  fail: (prop: string, detail: string) => never,
): PushTarget<S> {
  const options = args.ecr === true ? {} : (args.ecr as Exclude<PushTargetArgs['ecr'], boolean | undefined>);
  if (typeof options !== 'object' || options === null) {
    fail('ecr', `ecr must be true or { keepImages, forceDelete }, got ${show(args.ecr)}`);
  }
  const keepImages = options.keepImages ?? DEFAULT_KEEP_IMAGES;
  if (!Number.isInteger(keepImages) || keepImages < 1 || keepImages > 10_000) {
    fail(
      'ecr.keepImages',
      `ecr.keepImages must be an integer from 1 to 10000, got ${show(options.keepImages)}`,
    );
  }
  const forceDelete = options.forceDelete ?? false;
  if (typeof forceDelete !== 'boolean') {
    fail('ecr.forceDelete', `ecr.forceDelete must be true or false, got ${show(options.forceDelete)}`);
  }
  const repository = args.repository ?? name;
  if (typeof repository === 'string' && /^(?:[^/]*[.:][^/]*|localhost)\//.test(repository)) {
    fail(
      'repository',
      `repository ${show(repository)} names a registry host; with ecr, repository is the ECR repository's name, e.g. 'acme/iris' (the account's registry is added)`,
    );
  }
  if (
    typeof repository !== 'string' ||
    !ECR_NAME.test(repository) ||
    repository.length < 2 ||
    repository.length > 256
  ) {
    fail(
      'repository',
      `${args.repository === undefined ? 'the resource name' : 'repository'} ${show(repository)} is not a valid ECR repository name (2 to 256 lower-case letters, digits, '.', '_', '-' and '/'); set repository, e.g. 'acme/iris'`,
    );
  }
  if (parseImageReference(repository) === undefined) {
    fail('repository', `repository ${show(repository)} is not a valid image repository; e.g. 'acme/iris'`);
  }
  return { kind: 'ecr', repository, ecr: { name: repository, keepImages, forceDelete } };
}
