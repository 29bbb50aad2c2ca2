import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import {
  type ApiKeyProps,
  type CostPlan,
  INFERENCE_SERVICE_PROPS_SHAPE,
  type IngressProps,
  type IngressTlsProps,
  type InferenceServiceProps,
  type ModelImageSource,
  type InferenceServiceSpec,
  objectProp,
  PropsChecker,
  resolveInferenceService,
  stringProp,
} from '../core';
import { type GateOutcome, type GateReport } from '../gate';
import { type ModelInfo } from '../model';
import {
  type CheckedInferenceService,
  checkInferenceService,
  prepareCheckedInferenceService,
} from '../pipeline';
import {
  formatServiceProblems,
  inClusterUrl,
  type KubeObject,
  renderInferenceService,
  serviceProblems,
  withServerImage,
} from '../render';
import { deferValues, isDeferred } from './deferred-values';
import { kubernetesResource } from './kubernetes-resource';
import { DEFAULT_OUTDIR } from './model-image-args';

export type { InferenceServiceProps } from '../core';

/**
 * InferenceServiceProps, plus where the gate's reports are written. The values that usually come
 * from other resources (the namespace, an image reference, secret names, ingress hosts) may be
 * Pulumi Inputs; everything the gate and the policy judge is plain.
 */
export interface InferenceServiceArgs extends Omit<
  InferenceServiceProps,
  'namespace' | 'image' | 'apiKey' | 'ingress'
> {
  /**
   * Namespace of every object; may come from a `k8s.core.v1.Namespace`'s `metadata.name`.
   * @default - the provider's default namespace
   */
  readonly namespace?: pulumi.Input<string>;
  /**
   * The image to run: a ModelImage (the Deployment runs its pushed digest), or an image reference
   * of a modelfab server image, which may be an Output of another resource.
   */
  readonly image: ModelImageSource | pulumi.Input<string>;
  /**
   * Require an API key, read from a Secret whose name may be an Output.
   * @default - no API key
   */
  readonly apiKey?: Omit<ApiKeyProps, 'secretName'> & { readonly secretName: pulumi.Input<string> };
  /**
   * An Ingress in front of the Service; its hosts and TLS secret name may be Outputs.
   * @default - no Ingress
   */
  readonly ingress?: Omit<IngressProps, 'hosts' | 'tls'> & {
    /** @default - every host */
    readonly hosts?: readonly pulumi.Input<string>[];
    /** @default - no TLS */
    readonly tls?: Omit<IngressTlsProps, 'secretName'> & {
      /** @default - `<name>-tls` */
      readonly secretName?: pulumi.Input<string>;
    };
  };
  /**
   * The folder the gate's reports are written to (`<outdir>/<name>.gate.{json,md,svg}`), relative
   * to the program's working directory.
   * @default 'modelfab.out'
   */
  readonly outdir?: string;
}

/** The shape of {@link InferenceServiceArgs}: the props and `outdir`. */
export const INFERENCE_SERVICE_ARGS_SHAPE = objectProp<InferenceServiceArgs>(
  { ...INFERENCE_SERVICE_PROPS_SHAPE.fields, outdir: stringProp('modelfab.out') },
  INFERENCE_SERVICE_PROPS_SHAPE.required as readonly Extract<keyof InferenceServiceArgs, string>[],
);

/** What the async initialisation made: the rendered objects, their resources and the gate's outcome. */
interface Deployed {
  readonly objects: readonly KubeObject[];
  readonly service: pulumi.CustomResource & {
    readonly metadata: pulumi.Output<{ name: string; namespace: string }>;
  };
  readonly gate?: GateOutcome;
  readonly cost?: CostPlan;
}

/**
 * An ONNX model served on Kubernetes, as a Pulumi component: the same props and the same objects
 * as the cdk8s InferenceService (rendered by `lib/render`), each registered as its typed
 * `@pulumi/kubernetes` resource with `{ parent: this }`, so a provider given in the options
 * (`provider` or `providers`) applies to all of them.
 *
 * Props are checked and the model inspected in the constructor: a bad value throws there, before
 * anything is registered. The gate runs in the component's async initialisation (one benchmark at
 * a time in the program, or from the cache); a failed gate, a capacity plan the autoscaling cannot
 * hold or a policy violation fails `pulumi preview` and `pulumi up` with the message cdk8s prints,
 * and no Kubernetes resource is registered.
 *
 * Given a Pulumi ModelImage, the Deployment runs the image's `repoDigest`.
 *
 * Children: `<name>-service-account`, `-service`, `-deployment`, `-autoscaler` (with autoscaling),
 * `-disruption-budget`, `-network-policy`, `-ingress` (with ingress).
 */
export class InferenceService extends pulumi.ComponentResource<Deployed> {
  /** The resolved props, every default applied. */
  readonly spec: InferenceServiceSpec;
  /** What inspecting the model file found (digest, signature, size). */
  readonly model: ModelInfo;
  /** The name of every object (and the Service's DNS name), once the Service exists. */
  readonly name: pulumi.Output<string>;
  /** The namespace the objects are in (the provider's default when the props name none). */
  readonly namespace: pulumi.Output<string>;
  /** `http://<name>.<namespace>.svc.cluster.local:<port>`: the Open Inference Protocol endpoint. */
  readonly url: pulumi.Output<string>;
  /** The gate's report; undefined without a gate or when it was skipped (`MODELFAB_GATE=skip`). */
  readonly gateReport: pulumi.Output<GateReport | undefined>;
  /** `passed`, `failed`, `skipped`, or `none` without a gate. */
  readonly gateStatus: pulumi.Output<GateOutcome['status'] | 'none'>;
  /**
   * What the service costs on its node (placement or nodeType): per hour at the planned replicas,
   * and per million inferences at the gate's measured capacity. Undefined without a node to price it.
   */
  readonly cost: pulumi.Output<CostPlan | undefined>;
  /** The Kubernetes objects as rendered, in apply order (the image as the program knows it). */
  readonly objects: pulumi.Output<KubeObject[]>;

  constructor(name: string, args: InferenceServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before anything is registered, like the cdk8s construct's constructor.
    new PropsChecker(name).knownProps(args, INFERENCE_SERVICE_ARGS_SHAPE, 'InferenceService', 'arg');
    const { outdir, ...rest } = args;
    // Values from other resources stand in as placeholders; once known, they are checked as props
    // and the objects they give as the policy checks any (an image tagged `latest` fails image-tag).
    const owner: { resource?: pulumi.Resource; model?: ModelInfo } = {}; // filled in below
    const deferred = deferValues(
      rest,
      (props) => {
        const known = resolveInferenceService(props, { constructPath: name, id: name });
        const problems = serviceProblems(
          known,
          renderInferenceService(known, owner.model!, undefined),
          undefined,
        );
        if (problems.length > 0) throw new Error(formatServiceProblems(name, problems));
      },
      (message) => void pulumi.log.error(message, owner.resource),
    );
    const checked = checkInferenceService(deferred.props, {
      constructPath: name,
      id: name,
      reports: { dir: path.resolve(outdir ?? DEFAULT_OUTDIR), name },
    });
    const { spec, model } = checked;
    owner.model = model;
    // The props are the component's inputs (shown in previews); initialize finds what was checked.
    // An image that is not a Pulumi resource (a reference, or another engine's object) is recorded
    // as its reference.
    const image = args.image;
    const recorded =
      typeof image === 'string' || isDeferred(image) || pulumi.Resource.isInstance(image)
        ? image
        : (image as ModelImageSource).imageRef;
    const inputs: InferenceServiceArgs = { ...args, image: recorded };
    CHECKED.set(inputs, { checked, restore: (objects) => deferred.restore(objects) });
    super('modelfab:index:InferenceService', name, inputs, opts);
    owner.resource = this;
    this.spec = spec;
    this.model = model;
    const deployed = this.getData();
    const from = <T>(pick: (d: Deployed) => pulumi.Input<T>): pulumi.Output<T> =>
      pulumi.output(deployed.then(pick)) as pulumi.Output<T>;
    this.name = from((d) => d.service.metadata.name);
    this.namespace = from((d) => d.service.metadata.namespace);
    this.url = this.namespace.apply((namespace) => inClusterUrl(spec, namespace));
    this.gateReport = from((d) => (d.gate?.status === 'skipped' ? undefined : d.gate?.report));
    this.gateStatus = from((d) => d.gate?.status ?? 'none');
    this.cost = from((d) => d.cost);
    this.objects = from((d) => [...d.objects]);
    this.registerOutputs({
      name: this.name,
      namespace: this.namespace,
      url: this.url,
      gateStatus: this.gateStatus,
      gateReport: this.gateReport,
      cost: this.cost,
    });
  }

  /**
   * The async initialisation: the gate, its reports, the objects, their resources. Pulumi holds
   * back whatever `dependsOn` this component until it has settled, so dependents wait for every
   * object, not only those registered when they were.
   */
  protected override async initialize(
    inputs: pulumi.Inputs,
    opts?: pulumi.ComponentResourceOptions,
    name?: string,
  ): Promise<Deployed> {
    const args = inputs as InferenceServiceArgs;
    const { checked, restore } = CHECKED.get(args) as Checked;
    const resourceName = name as string; // ComponentResource always passes its name
    try {
      const prepared = await prepareCheckedInferenceService(checked);
      const { spec, objects, gate, cost, canary } = prepared;
      const problems = serviceProblems(spec, objects, gate, canary);
      if (problems.length > 0) throw new Error(formatServiceProblems(resourceName, problems));
      const digest = deployedDigest(args.image);
      const deployed = restore(digest ? withServerImage(objects, digest) : objects);
      // What the component depends on, its objects wait for too (a child does not inherit it): a
      // MultiCloudDeployment's wave 2 Deployments wait for wave 1's to be ready.
      const dependsOn = opts?.dependsOn;
      const childOpts = { parent: this, ...(dependsOn ? { dependsOn } : {}) };
      const resources = deployed.map((object) => kubernetesResource(resourceName, object, childOpts));
      // The candidate's objects, children `<name>-canary-<role>`, its image the pushed digest too.
      const canaryDigest = deployedDigest(args.canary?.image as InferenceServiceArgs['image']);
      const candidate = canary
        ? restore(canaryDigest ? withServerImage(canary.objects, canaryDigest) : canary.objects)
        : [];
      for (const object of candidate) kubernetesResource(`${resourceName}-canary`, object, childOpts);
      const service = resources[objects.findIndex((o) => o.kind === 'Service')] as Deployed['service'];
      return {
        objects: [...deployed, ...candidate],
        service,
        ...(gate ? { gate } : {}),
        ...(cost ? { cost } : {}),
      };
    } catch (error) {
      // Reported by `pulumi preview`/`up` as this component's error, without a stack trace.
      throw new pulumi.ResourceError((error as Error).message, this, true);
    }
  }
}

/** What the constructor checked, for the async initialisation (keyed by the inputs object it passes). */
interface Checked {
  readonly checked: CheckedInferenceService;
  /** Puts the deferred values back into the rendered objects. */
  readonly restore: (objects: readonly KubeObject[]) => KubeObject[];
}
const CHECKED = new WeakMap<object, Checked>();

/** The pushed digest of a Pulumi ModelImage, which the Deployment runs instead of the tag. */
function deployedDigest(image: InferenceServiceArgs['image']): pulumi.Output<string> | undefined {
  // Only a resource's: an Output lifts any property access into another Output.
  if (!pulumi.Resource.isInstance(image)) return undefined;
  const digest = (image as { repoDigest?: unknown }).repoDigest;
  return pulumi.Output.isInstance(digest) ? (digest as pulumi.Output<string>) : undefined;
}
