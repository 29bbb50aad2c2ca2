/**
 * An InferenceService's canary resolved: the candidate's weight and the Gateway the split is made
 * at, and the candidate's own InferenceService props (the stable service's, with the candidate's
 * image, model and gate, named `<name>-canary`, labelled as the canary track, sized for its share
 * of the SLO). Each failure names the prop, the value and the fix.
 */
import { ModelfabValidationError, show } from './errors';
import { type CanaryProps, type InferenceServiceProps } from './inference-service-props';
import { type InferenceServiceSpec } from './inference-service-spec';
import { isDns1123Label, isDns1123Subdomain } from './names';
import { type PropsChecker } from './props-checker';
import { derivedSlo } from './resolve-gate';

/** The label that tells a canary's objects from the stable service's: `stable` or `canary`. */
export const TRACK_LABEL = 'modelfab.dev/track';

/** A resolved canary. */
export interface CanarySpec {
  readonly weight: number;
  readonly gateway: { readonly name: string; readonly namespace?: string; readonly sectionName?: string };
  readonly hostnames: readonly string[];
  /** The candidate's InferenceService props. */
  readonly props: InferenceServiceProps;
}

export function resolveCanary(check: PropsChecker, props: InferenceServiceProps, name: string): CanarySpec {
  const canary = check.record('canary', props.canary) as unknown as CanaryProps;
  const weight = check.integer(
    'canary.weight',
    canary.weight,
    0,
    100,
    'the percent of requests the candidate takes',
  );
  if (canary.image === undefined && canary.model === undefined) {
    check.fail(
      'canary',
      `canary ${show(canary)} names no candidate; set canary.image (a ModelImage or a reference) or canary.model (another model file for the service's image)`,
    );
  }
  if (props.gate !== undefined && canary.gate === undefined) {
    check.fail(
      'canary.gate',
      'canary.gate is missing, but the stable service has a gate: the candidate takes real traffic, so it must pass its own gate; add canary.gate (the same thresholds, or its own)',
    );
  }
  if (props.ingress !== undefined) {
    check.fail(
      'canary',
      'canary splits the requests at a Gateway (an HTTPRoute), but the service also has an ingress, which would send every request to the stable pods; remove ingress (the route serves the hostnames) or the canary',
    );
  }
  const gateway = check.record('canary.gateway', canary.gateway);
  if (typeof gateway.name !== 'string' || !isDns1123Subdomain(gateway.name)) {
    check.fail(
      'canary.gateway.name',
      `canary.gateway.name ${show(gateway.name)} is not a Gateway's name; use its metadata.name, e.g. 'public'`,
    );
  }
  for (const prop of ['namespace', 'sectionName'] as const) {
    const value = gateway[prop];
    if (value !== undefined && (typeof value !== 'string' || !isDns1123Label(value))) {
      check.fail(`canary.gateway.${prop}`, `canary.gateway.${prop} ${show(value)} must be a DNS-1123 label`);
    }
  }
  const hostnames = canary.hostnames ?? [];
  if (
    !Array.isArray(hostnames) ||
    hostnames.some((h) => typeof h !== 'string' || !isDns1123Subdomain(h.replace(/^\*\./, '')))
  ) {
    check.fail(
      'canary.hostnames',
      `canary.hostnames ${show(hostnames)} must list host names, e.g. ['iris.example.com']`,
    );
  }
  const { canary: _canary, image, model, gate: _gate, slo, name: _name, ...rest } = props;
  // A candidate ModelImage carries its model; a reference needs one (the candidate's, or the service's).
  const candidateModel =
    canary.model ?? (canary.image === undefined || typeof canary.image === 'string' ? model : undefined);
  return {
    weight,
    gateway: {
      name: gateway.name,
      ...(gateway.namespace !== undefined ? { namespace: gateway.namespace as string } : {}),
      ...(gateway.sectionName !== undefined ? { sectionName: gateway.sectionName as string } : {}),
    },
    hostnames,
    props: {
      ...rest,
      name: `${name}-canary`,
      image: canary.image ?? image,
      ...(candidateModel !== undefined ? { model: candidateModel } : {}),
      ...(canary.gate !== undefined ? { gate: canary.gate } : {}),
      // The candidate's share of the load sizes it, from its own measured capacity.
      ...(slo !== undefined && canary.gate !== undefined && weight > 0
        ? {
            slo: derivedSlo(
              { ...slo, targetRps: (slo.targetRps * weight) / 100 },
              `the canary's ${weight}% of slo.targetRps ${slo.targetRps}`,
            ),
          }
        : {}),
      labels: { ...props.labels, [TRACK_LABEL]: 'canary' },
    },
  };
}

/**
 * The candidate as it must serve: under the stable service's model name, since the route sends the
 * stable service's clients, who call `/v2/models/<name>/infer`, to it. The modelfab server takes
 * its name from the Deployment, so a candidate file named otherwise (`iris-v2.onnx`) still answers
 * as `iris`; Triton's name is its model repository folder in the image, so there it must match.
 */
export function servedAsStable(
  constructPath: string,
  stable: InferenceServiceSpec,
  candidate: InferenceServiceSpec,
): InferenceServiceSpec {
  if (candidate.modelName === stable.modelName) return candidate;
  if (candidate.runtime === 'modelfab') return { ...candidate, modelName: stable.modelName };
  throw new ModelfabValidationError(
    constructPath,
    'canary.image',
    `canary.image serves model ${show(candidate.modelName)} with Triton, whose model name is baked into the image, but the stable service serves ${show(stable.modelName)}: the route sends clients calling /v2/models/${stable.modelName} to both; build the candidate's ModelImage with name: ${show(stable.modelName)}`,
  );
}
