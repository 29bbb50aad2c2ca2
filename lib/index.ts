/**
 * modelfab's public API, shared by both engines: the props of every construct, the resolved specs
 * and the gate's report they expose, model inspection and the error class. The constructs are in
 * `modelfab/cdk8s` and `modelfab/pulumi`. Nothing else is public: the layers under lib/ change
 * freely. The surface is locked by the API report (api/modelfab.api.md, checked by `npm run lint`).
 *
 * @packageDocumentation
 */

// Props, the same in every engine.
export type {
  ApiKeyProps,
  AutoscalingProps,
  IngressProps,
  IngressTlsProps,
  InferenceServiceProps,
  MonitoringAlertsProps,
  MonitoringDashboardProps,
  MonitoringProps,
  NetworkPeerProps,
  NetworkPolicyProps,
  PolicyProps,
  ResourcesProps,
  ShutdownProps,
} from './core/inference-service-props';
export type { AccuracyGateProps, GateProps, ParityGateProps, SloProps } from './core/gate-props';
export type {
  BaseImagesProps,
  ImagePlatform,
  ModelImageProps,
  ServingProps,
  TritonInstanceKind,
  TritonProps,
} from './core/model-image-props';
export type { ModelImageSource, ServingRuntime } from './core/model-image-source';
export type {
  AutoscaledGpuPoolProps,
  EksNodeGroupProps,
  GkeComputeClassProps,
  GpuPoolDisruptionProps,
  KarpenterNodeClassProps,
} from './core/gpu-pool-props';
export type { Placement, PlacementNodeType } from './core/placement';
export type {
  DeploymentTargetProps,
  MultiCloudDeploymentProps,
  MultiCloudRolloutProps,
  MultiCloudRoutingProps,
  MultiCloudSloProps,
  TargetRoutingProps,
} from './core/multicloud-props';
export type {
  Cloud,
  DnsSpec,
  GeolocationSpec,
  HealthCheckSpec,
  MultiCloudRoutingSpec,
  MultiCloudSloSpec,
  RoutingPolicy,
  TargetLoad,
  TargetRoutingSpec,
  TrafficPlan,
} from './core/multicloud-spec';
export type { MultiCloudDeploymentSpec, MultiCloudTargetSpec } from './core/resolve-multicloud';
export type {
  MultiCloudSummary,
  PlannedMultiCloud,
  MultiCloudTargetPlan,
  TargetOutcome,
} from './pipeline/prepare-multicloud';
export type { GpuName } from './core/gpu';
export type { ExecutionProvider, GpuExecutionProvider } from './core/execution-provider';
export type { KarpenterPoolSpec } from './render/render-karpenter';
export type { EksNodeGroupSpec } from './render/render-eks-node-group';
export type { GkeComputeClassSpec } from './render/render-gke-compute-class';

// What the constructs expose: resolved specs, the model's inspection, the gate's report.
export type {
  FixedScaling,
  HorizontalScaling,
  InferenceServiceSpec,
  IngressSpec,
  MonitoringSpec,
  NetworkPeer,
  ResourceAmounts,
} from './core/inference-service-spec';
export type { ModelImageSpec, TritonSpec } from './core/model-image-props';
export type { GpuPoolFlavour, GpuPoolSpec } from './core/resolve-gpu-pool';
export type { InstanceType } from './core/instance-catalog';
export type { CostInputs, CostPlan } from './core/cost';
export type { DevicePluginSpec } from './render/render-device-plugin';
export type { GateSpec, SloSpec } from './core/gate-spec';
export type {
  Dim,
  ElementType,
  ModelInfo,
  NonTensorKind,
  NonTensorSignature,
  OpsetImport,
  TensorSignature,
  ValueSignature,
} from './model/model-info';
export type { GateOutcome } from './gate/gate-outcome';
export type {
  AccuracyMeasurement,
  BatchSettingResult,
  CapacityPlan,
  GateEnvironment,
  GateGpu,
  GateMeasurements,
  GateReport,
  Grade,
  LatencyMeasurement,
  LatencyStats,
  ParityMeasurement,
  PercentileBounds,
  ServingConfig,
  Stability,
  ThroughputMeasurement,
  Verdict,
  WindowStats,
} from './gate/gate-report';
export type { SkippedBatchSetting } from './gate/memory-forecast';
export type {
  BuildContext,
  BuildContextFile,
  ContentFile,
  CopiedFile,
  ImageBatching,
} from './render/render-build-context';
export type { KubeObject } from './render/kube-object';
export type { ModelImageAttributes } from './pipeline/prepare-model-image';

// Functions and errors.
export { inspectModel } from './model/inspect-model';
export { ModelFileError, type ModelFileErrorCode } from './model/errors';
export { ModelfabValidationError } from './core/errors';
