/**
 * `@pulumi/aws`, loaded only when an AWS resource is asked for (an ECR repository, an EKS node
 * group): it is an optional peer dependency (others need not install it) and a large module.
 */
import type * as aws from '@pulumi/aws';
import { ModelfabValidationError } from '../core';

/**
 * @param name the component's name, for the message
 * @param need the prop that asks for AWS resources and the way around them, for the message
 * @param load how to load the module (tests pass one that fails)
 */
export function loadAws(
  name: string,
  need: { readonly prop: string; readonly asked: string; readonly otherwise: string },
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional, loaded on use
  load: () => unknown = () => require('@pulumi/aws'),
): typeof aws {
  try {
    return load() as typeof aws;
  } catch (error) {
    throw new ModelfabValidationError(
      name,
      need.prop,
      `${need.asked} needs @pulumi/aws, which could not be loaded (${(error as Error).message.split('\n')[0]}); run npm install @pulumi/aws, or ${need.otherwise}`,
    );
  }
}
