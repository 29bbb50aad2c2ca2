// The stack program: one ONNX model built into an image, pushed, gated and served on Kubernetes,
// from the stack's `modelfab:*` config (stacks/Pulumi.<stack>.yaml; see stack-config.ts for the
// keys). `pulumi up` runs it from its sources (Pulumi.yaml: main: stacks/, whose package.json names index.ts), with this
// folder as the working directory; paths in the config are relative to the project root.
import * as path from 'node:path';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import {
  AutoscaledGpuPool,
  InferenceService,
  ModelImage,
  MultiCloudDeployment,
  type MultiCloudDeploymentArgs,
} from '../lib/pulumi';
import { CONFIG_NAMESPACE, readStackConfig, StackConfigError } from './stack-config';

const PROJECT_ROOT = path.resolve(__dirname, '..');

/**
 * A config or props error, as Pulumi prints it without a stack trace: the message names the key or
 * prop and the fix, and the trace would only point here.
 */
function cleanError(error: unknown): unknown {
  const named = error as { name?: unknown; message?: unknown };
  return error instanceof StackConfigError || named?.name === 'ModelfabValidationError'
    ? new pulumi.RunError(String(named.message))
    : error;
}

function deploy() {
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  const prefix = `${CONFIG_NAMESPACE}:`;
  const stack = readStackConfig(
    {
      keys: () =>
        Object.keys(pulumi.runtime.allConfig())
          .filter((key) => key.startsWith(prefix))
          .map((key) => key.slice(prefix.length)),
      get: (key) => config.get(key),
      requireSecret: (key) => config.requireSecret(key),
    },
    { projectRoot: PROJECT_ROOT, cwd: process.cwd() },
  );

  // An explicit cluster when the stack names one; else Pulumi's default provider, which reads
  // kubernetes:context / kubernetes:kubeconfig and $KUBECONFIG.
  const provider = stack.cluster ? new k8s.Provider(`${stack.name}-cluster`, stack.cluster) : undefined;

  const image = new ModelImage(stack.name, stack.image);
  if (stack.multiCloud) {
    // Several clusters behind one hostname: the image is pushed once, each cluster pulls it.
    const { outdir, ...service } = stack.service;
    const deployment = new MultiCloudDeployment(stack.name, {
      // Plain values from the config (the args type allows Outputs, which a config never holds).
      service: { ...service, image } as MultiCloudDeploymentArgs['service'],
      ...stack.multiCloud,
      ...(outdir !== undefined ? { outdir } : {}),
    });
    return { image, deployment };
  }
  // GPU nodes for the service when the stack names a pool: `<name>-gpu`, on the same cluster.
  const pool = stack.gpu
    ? new AutoscaledGpuPool(
        `${stack.name}-gpu`,
        stack.gpu.pool,
        provider ? { providers: [provider] } : undefined,
      )
    : undefined;
  // The candidate's image beside the service's, when the stack has a canary: `<name>-canary`.
  const candidate = stack.canary ? new ModelImage(`${stack.name}-canary`, stack.canary.image) : undefined;
  const service = new InferenceService(
    stack.name,
    {
      ...stack.service,
      image,
      ...(candidate && stack.canary ? { canary: { ...stack.canary.props, image: candidate } } : {}),
      ...(pool && stack.gpu ? { placement: pool.placement({ gpus: stack.gpu.gpusPerPod }) } : {}),
    },
    provider ? { provider } : undefined,
  );
  return { image, service, pool, candidate };
}

let deployed: ReturnType<typeof deploy>;
try {
  deployed = deploy();
} catch (error) {
  throw cleanError(error);
}
const { image } = deployed;
const service = 'service' in deployed ? deployed.service : undefined;
const pool = 'pool' in deployed ? deployed.pool : undefined;
const multiCloud = 'deployment' in deployed ? deployed.deployment : undefined;

/** `registry/repository:tag` of the pushed image. */
export const imageName = image.imageName;
/** `registry/repository@sha256:…`: what the Deployment runs. */
export const repoDigest = image.repoDigest;
/** With a canary: what the candidate's Deployment runs. */
export const canaryRepoDigest = ('candidate' in deployed ? deployed.candidate : undefined)?.repoDigest;
/** The Kubernetes Service (and every object) name. */
export const serviceName = service?.name;
export const namespace = service?.namespace;
/** The in-cluster Open Inference Protocol endpoint. */
export const url = service?.url;
/** `passed`, `failed`, `skipped` (MODELFAB_GATE=skip) or `none` without a gate. */
export const gateStatus = service?.gateStatus;
/** The GPU pool's name, when the stack has one. */
export const gpuPool = pool?.name;
/** What the service costs on its node (gpuPool or nodeType): per hour and per million inferences. */
export const cost = service?.cost;
/** With targets: the hostname clients use. */
export const hostname = multiCloud?.hostname;
/** With targets: the plan table, each target's service, URL, capacity and cost, and the total cost. */
export const multiCloudSummary = multiCloud?.summary;
