/**
 * Pulumi under `pulumi.runtime.setMocks` (the official way to unit-test components; the Pulumi CLI
 * and providers cannot run here): every registered resource and every invoke is recorded, and the
 * mocked providers answer what the real ones would for the fields modelfab reads.
 */
import * as crypto from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import * as settings from '@pulumi/pulumi/runtime/settings';

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, any>;
  /** The provider reference (`urn::id`) the resource was registered with. */
  readonly provider?: string;
}

export interface RecordedCall {
  readonly token: string;
  readonly inputs: Record<string, any>;
}

export const ACCOUNT = '123456789012';
export const ECR_HOST = `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`;

/** The digest the mocked docker provider reports for an image name: derived from it, so stable. */
export function mockDigest(imageName: string): string {
  const repository = imageName.replace(/:[^:/]+$/, '');
  return `${repository}@sha256:${crypto.createHash('sha256').update(imageName).digest('hex')}`;
}

/**
 * Installs the mocks for stack `test` of `project` (default `modelfab`; `new pulumi.Config()` reads
 * that namespace) and returns what they record; `reset()` empties the records between tests.
 */
export function installPulumiMocks(options: { preview?: boolean; project?: string } = {}) {
  const resources: RecordedResource[] = [];
  const calls: RecordedCall[] = [];
  /** The AWS partition the mocked provider is in (`getPartition`). */
  let awsPartition = 'aws';
  void pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const inputs = args.inputs as Record<string, any>;
        resources.push({
          type: args.type,
          name: args.name,
          inputs,
          ...(args.provider !== undefined && args.provider !== '' ? { provider: args.provider } : {}),
        });
        let state: Record<string, any> = { ...inputs };
        if (args.type === 'kubernetes:networking.k8s.io/v1:Ingress' && args.id) {
          // A read of an admitted Ingress (Ingress.get): its load balancer's address, an AWS
          // ELB's hostname, or an IP (as MetalLB gives) on a target named `onprem…`.
          const address = /-onprem[^-]*-ingress-status$/.test(args.name)
            ? { ip: '203.0.113.10' }
            : { hostname: `${args.name}.elb.us-east-1.amazonaws.com` };
          state = { ...inputs, status: { loadBalancer: { ingress: [address] } } };
        } else if (args.type.startsWith('kubernetes:')) {
          // The API server fills in the namespace the provider defaults to.
          state = { ...inputs, metadata: { namespace: 'default', ...inputs.metadata } };
        } else if (args.type === 'docker:index/image:Image') {
          state = {
            ...inputs,
            repoDigest: mockDigest(inputs.imageName),
            registryServer: inputs.registry?.server,
          };
        } else if (args.type === 'aws:iam/role:Role') {
          state = {
            ...inputs,
            name: `${args.name}-1a2b3c`,
            arn: `arn:aws:iam::${ACCOUNT}:role/${args.name}-1a2b3c`,
          };
        } else if (args.type === 'aws:ec2/launchTemplate:LaunchTemplate') {
          state = { ...inputs, latestVersion: 1 };
        } else if (args.type === 'aws:eks/nodeGroup:NodeGroup') {
          // EKS names the node group's Auto Scaling group itself.
          state = {
            ...inputs,
            resources: [{ autoscalingGroups: [{ name: `eks-${inputs.nodeGroupName}-0a1b2c3d` }] }],
          };
        } else if (args.type === 'aws:ecr/repository:Repository') {
          state = {
            ...inputs,
            registryId: ACCOUNT,
            repositoryUrl: `${ECR_HOST}/${inputs.name}`,
            arn: `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/${inputs.name}`,
          };
        }
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        calls.push({ token: args.token, inputs: args.inputs as Record<string, any> });
        if (args.token === 'aws:index/getPartition:getPartition') {
          const dnsSuffix = awsPartition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
          return { id: awsPartition, partition: awsPartition, dnsSuffix, reverseDnsPrefix: 'com.amazonaws' };
        }
        if (args.token === 'aws:ecr/getAuthorizationToken:getAuthorizationToken') {
          return {
            userName: 'AWS',
            password: 'mock-ecr-token',
            authorizationToken: Buffer.from('AWS:mock-ecr-token').toString('base64'),
            proxyEndpoint: `https://${ECR_HOST}`,
            expiresAt: '2026-11-23T12:00:00Z',
            registryId: args.inputs.registryId,
            id: 'eu-west-1',
          };
        }
        return {};
      },
    },
    options.project ?? 'modelfab',
    'test',
    options.preview ?? false,
  );
  return {
    resources,
    calls,
    reset() {
      resources.length = 0;
      calls.length = 0;
      awsPartition = 'aws';
    },
    /** Puts the mocked AWS provider in another partition (`aws-us-gov`, `aws-cn`) until {@link reset}. */
    setAwsPartition(partition: string) {
      awsPartition = partition;
    },
    ofType: (type: string) => resources.filter((r) => r.type === type),
    /**
     * The URN of every resource the mocks registered. A child's URN carries its parent's type:
     * `urn:pulumi:test::modelfab::modelfab:index:InferenceService$kubernetes:apps/v1:Deployment::iris-deployment`.
     */
    urns(): string[] {
      const monitor = settings.getMonitor() as unknown as { getRegisteredResources(): Map<string, unknown> };
      return [...monitor.getRegisteredResources().keys()];
    },
  };
}

/** The key and value that mark a secret in serialized resource inputs (Pulumi's wire format). */
const SECRET_SIG = ['4dabf18193072939515e22adb298388d', '1b47061264138c4ac30d75fd1eb44270'] as const;

/** The value inside a secret as the mocks receive it, or undefined when `input` is not a secret. */
export function secretValue(input: unknown): unknown {
  const marked = input as Record<string, unknown> | null;
  return typeof marked === 'object' && marked !== null && marked[SECRET_SIG[0]] === SECRET_SIG[1]
    ? marked.value
    : undefined;
}

/** The value of an Output (undefined while unknown, as in a preview). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // apply runs only with a known value; the promise rejects with the output's error.
    output.apply((value) => resolve(value));
    (output as unknown as { promise(): Promise<T> }).promise().catch(reject);
  });
}

/** What a program run under the mocks left: its result, and the errors Pulumi would report. */
export interface ProgramRun<T> {
  readonly result?: T;
  /** Errors the program threw or left as unhandled rejections (how Pulumi's runner sees them). */
  readonly errors: readonly Error[];
}

/**
 * Runs a Pulumi program the way Pulumi's Node.js runner does: unhandled rejections are the
 * program's errors (a component's failed async initialisation reaches the engine that way), and
 * the run ends when every outstanding resource operation has. While it runs, the test runner's
 * own unhandled-rejection listeners are set aside, then restored.
 */
export async function runProgram<T>(program: () => T | Promise<T>): Promise<ProgramRun<T>> {
  const saved = process.listeners('unhandledRejection');
  process.removeAllListeners('unhandledRejection');
  const errors: Error[] = [];
  const capture = (reason: unknown) => errors.push(reason as Error);
  process.on('unhandledRejection', capture);
  try {
    let result: T | undefined;
    try {
      result = await program();
    } catch (error) {
      errors.push(error as Error);
    }
    // Internal to the SDK (not in its typings), and what its own runner awaits before exiting.
    await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the last rejections surface
    return { ...(result !== undefined ? { result } : {}), errors };
  } finally {
    process.removeListener('unhandledRejection', capture);
    for (const listener of saved) process.on('unhandledRejection', listener);
  }
}
