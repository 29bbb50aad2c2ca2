/**
 * `@pulumi/aws`, loaded only when an ECR repository is asked for: it is an optional peer dependency
 * (registry users need not install it) and a large module.
 */
import type * as aws from '@pulumi/aws';
import { ModelfabValidationError } from '../core';

/**
 * @param name the ModelImage's name, for the message
 * @param load how to load the module (tests pass one that fails)
 */
export function loadAws(
  name: string,
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional, loaded on use
  load: () => unknown = () => require('@pulumi/aws'),
): typeof aws {
  try {
    return load() as typeof aws;
  } catch (error) {
    throw new ModelfabValidationError(
      name,
      'ecr',
      `ecr: true needs @pulumi/aws, which could not be loaded (${(error as Error).message.split('\n')[0]}); run npm install @pulumi/aws, or push to a registry with registry: { server, username, password }`,
    );
  }
}
