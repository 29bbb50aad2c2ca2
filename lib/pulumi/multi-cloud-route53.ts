/**
 * The Route53 side of a MultiCloudDeployment (Pulumi only): the health checks and records
 * `renderRoute53` plans, each record pointing at its target's load balancer as the target's Ingress
 * reports it once it is admitted (read back from the target's cluster with its provider).
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { type PlannedMultiCloud } from '../pipeline';
import { recordTypeFor, renderRoute53 } from '../render';
import { type InferenceService } from './inference-service';
import { loadAws } from './load-aws';

/**
 * Registers the Route53 resources of `planned` under `parent`: `<name>-<target>-health-check`,
 * `<name>-<target>-record` (the global hostname, with the routing policy and the health check) and
 * `<name>-<target>-host-record` (the target's own host, which its health check calls).
 */
export function multiCloudRoute53(
  parent: pulumi.ComponentResource,
  name: string,
  planned: PlannedMultiCloud,
  services: Readonly<Record<string, InferenceService>>,
  providers: Readonly<Record<string, k8s.Provider | undefined>>,
): void {
  const aws = loadAws(name, {
    prop: 'routing.dns.route53',
    asked: 'routing.dns.route53',
    otherwise: 'write the records with external-dns (routing.dns: { externalDns: true })',
  });
  const plan = renderRoute53(
    name,
    planned.spec.routing,
    planned.spec.targets.map((t) => ({ name: t.name, host: t.host, routing: t.routing })),
  );
  const addresses: Record<string, pulumi.Output<string>> = {};
  for (const { target } of planned.targets) {
    const service = services[target.name];
    const provider = providers[target.name];
    // The Ingress the target's service created, read back once its controller has admitted it.
    const ingress = k8s.networking.v1.Ingress.get(
      `${name}-${target.name}-ingress-status`,
      pulumi.interpolate`${service.namespace}/${service.name}`,
      { parent, dependsOn: [service], ...(provider ? { provider } : {}) },
    );
    addresses[target.name] = ingress.status.apply((status) => {
      const first = status?.loadBalancer?.ingress?.[0];
      const address = first?.hostname ?? first?.ip;
      if (!address) {
        throw new Error(
          `[${name}] target ${target.name}: its Ingress reports no load balancer address yet; check its ingress controller (ingress.className) in that cluster`,
        );
      }
      return address;
    });
  }
  const healthChecks = new Map<string, pulumi.Output<string>>();
  for (const check of plan.healthChecks) {
    const created = new aws.route53.HealthCheck(`${name}-${check.role}`, { ...check.args }, { parent });
    healthChecks.set(check.role, created.id);
  }
  for (const record of plan.dnsRecords) {
    const address = addresses[record.target];
    new aws.route53.Record(
      `${name}-${record.role}`,
      {
        ...record.args,
        type: address.apply(recordTypeFor),
        records: [address],
        ...(record.healthCheckRole ? { healthCheckId: healthChecks.get(record.healthCheckRole) } : {}),
      },
      { parent },
    );
  }
}
