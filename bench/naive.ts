/**
 * The naive evaluator the benchmark compares the service with: the way per-resource policy
 * evaluation works. Per subscription it lists the VMs and the Arc machines, then for each machine
 * reads its extensions and its data collection rule associations one by one, through the same
 * official SDK clients the service uses. It only evaluates (a machine is compliant with an AMA that
 * succeeded and at least one association); it never writes, so every request it makes is a read the
 * service's sweep has to beat.
 */
import type { TokenCredential } from "@azure/core-auth";
import { ComputeManagementClient } from "@azure/arm-compute";
import { HybridComputeManagementClient } from "@azure/arm-hybridcompute";
import { MonitorClient } from "@azure/arm-monitor";
import { ruleKey } from "./estateParts.js";
import { forEachBounded } from "./pool.js";

export interface NaiveOptions {
  readonly endpoint: string;
  readonly credential: TokenCredential;
  /** Subscriptions evaluated at once (ARM throttles per subscription, so fan out across them). */
  readonly subscriptionConcurrency: number;
  /** Machines of one subscription read at once. */
  readonly machineConcurrency: number;
}

export interface NaiveResult {
  readonly machines: number;
  readonly compliant: number;
}

interface ListedMachine {
  readonly resourceGroup: string;
  readonly name: string;
  readonly id: string;
  readonly kind: "vm" | "arc";
}

const AMA_TYPES = new Set(["azuremonitorwindowsagent", "azuremonitorlinuxagent"]);

export async function naiveEvaluate(subscriptions: readonly string[], options: NaiveOptions): Promise<NaiveResult> {
  const clientOptions = { endpoint: options.endpoint };
  const monitor = new MonitorClient(options.credential, clientOptions);
  let machines = 0;
  let compliant = 0;
  await forEachBounded(subscriptions, options.subscriptionConcurrency, async (subscriptionId) => {
    const compute = new ComputeManagementClient(options.credential, subscriptionId, clientOptions);
    const hybrid = new HybridComputeManagementClient(options.credential, subscriptionId, clientOptions);
    const listed: ListedMachine[] = [];
    for await (const vm of compute.virtualMachines.listAll()) listed.push(machineOf(vm.id, "vm"));
    for await (const machine of hybrid.machines.listBySubscription()) listed.push(machineOf(machine.id, "arc"));
    await forEachBounded(listed, options.machineConcurrency, async (machine) => {
      const extensionTypes: { type: string; state: string }[] = [];
      if (machine.kind === "vm") {
        const result = await compute.virtualMachineExtensions.list(machine.resourceGroup, machine.name);
        for (const extension of result.value ?? []) extensionTypes.push({ type: extension.typePropertiesType ?? "", state: extension.provisioningState ?? "" });
      } else {
        for await (const extension of hybrid.machineExtensions.list(machine.resourceGroup, machine.name)) {
          extensionTypes.push({ type: extension.properties?.type ?? "", state: extension.properties?.provisioningState ?? "" });
        }
      }
      let associations = 0;
      for await (const _association of monitor.dataCollectionRuleAssociations.listByResource(machine.id.replace(/^\/+/, ""))) associations++;
      machines++;
      const amaSucceeded = extensionTypes.some((extension) => AMA_TYPES.has(extension.type.toLowerCase()) && extension.state === "Succeeded");
      if (amaSucceeded && associations > 0) compliant++;
    });
  });
  return { machines, compliant };
}

function machineOf(id: string | undefined, kind: "vm" | "arc"): ListedMachine {
  const match = /\/resourceGroups\/([^/]+)\/providers\/[^/]+\/[^/]+\/([^/]+)$/i.exec(id ?? "");
  if (!id || !match) throw new Error(`unexpected machine id ${String(id)}`);
  return { id, kind, resourceGroup: match[1] as string, name: match[2] as string };
}

export interface NaiveRemediateOptions {
  readonly endpoint: string;
  readonly credential: TokenCredential;
  /** The rule a machine is associated with: its subscription's own for its region, by `ruleKey` (estateParts.ts). */
  readonly dataCollectionRules: Readonly<Record<string, string>>;
  /** Machines of one subscription remediated at once; subscriptions run side by side (ARM throttles each on its own). */
  readonly machineConcurrency: number;
  /** Poll interval when ARM sends no Retry-After (the SDK's default is 2,000 ms). */
  readonly pollIntervalMs: number;
}

export interface NaiveRemediateResult {
  readonly machines: number;
  readonly writes: number;
}

/**
 * The naive remediator, for the operations and bursts scenarios: each VM on its own, as a per-machine script or a
 * policy's deployIfNotExists would do it. It reads the machine, its extensions and its associations, then
 * writes what is missing one operation after another (identity PATCH, AMA PUT, association PUT), polling
 * each long-running one to its end with the SDK's poller.
 */
export async function naiveRemediate(machineIds: readonly string[], options: NaiveRemediateOptions): Promise<NaiveRemediateResult> {
  const clientOptions = { endpoint: options.endpoint };
  const monitor = new MonitorClient(options.credential, clientOptions);
  const poll = { updateIntervalInMs: options.pollIntervalMs };
  const bySubscription = new Map<string, string[]>();
  for (const id of machineIds) {
    const subscriptionId = /\/subscriptions\/([^/]+)/i.exec(id)?.[1] ?? "";
    bySubscription.set(subscriptionId, [...(bySubscription.get(subscriptionId) ?? []), id]);
  }
  let writes = 0;
  const remediate = async (subscriptionId: string, id: string): Promise<void> => {
    const machine = machineOf(id, "vm");
    const compute = new ComputeManagementClient(options.credential, subscriptionId, clientOptions);
    const vm = await compute.virtualMachines.get(machine.resourceGroup, machine.name);
    const extensions = (await compute.virtualMachineExtensions.list(machine.resourceGroup, machine.name)).value ?? [];
    let associations = 0;
    for await (const _association of monitor.dataCollectionRuleAssociations.listByResource(id.replace(/^\/+/, ""))) associations++;

    const identityType = vm.identity?.type ?? "None";
    if (!/SystemAssigned/i.test(identityType)) {
      const userAssigned = Object.keys(vm.identity?.userAssignedIdentities ?? {});
      const identity = userAssigned.length > 0
        ? { type: "SystemAssigned, UserAssigned" as const, userAssignedIdentities: Object.fromEntries(userAssigned.map((key) => [key, {}])) }
        : { type: "SystemAssigned" as const };
      await compute.virtualMachines.beginUpdateAndWait(machine.resourceGroup, machine.name, { identity }, poll);
      writes++;
    }
    const agent = vm.storageProfile?.osDisk?.osType === "Linux" ? "AzureMonitorLinuxAgent" : "AzureMonitorWindowsAgent";
    const installed = extensions.some((extension) => AMA_TYPES.has((extension.typePropertiesType ?? "").toLowerCase()) && extension.provisioningState === "Succeeded");
    if (!installed) {
      await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
        machine.resourceGroup,
        machine.name,
        agent,
        { location: vm.location, publisher: "Microsoft.Azure.Monitor", typePropertiesType: agent, typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true, enableAutomaticUpgrade: true },
        poll,
      );
      writes++;
    }
    if (associations === 0) {
      const dataCollectionRuleId = options.dataCollectionRules[ruleKey(subscriptionId, vm.location)];
      if (!dataCollectionRuleId) throw new Error(`naive remediator: no data collection rule for ${subscriptionId} in ${vm.location}`);
      await monitor.dataCollectionRuleAssociations.create(id.replace(/^\/+/, ""), "naive-ama", { body: { dataCollectionRuleId } });
      writes++;
    }
  };
  await Promise.all([...bySubscription].map(([subscriptionId, ids]) => forEachBounded(ids, options.machineConcurrency, (id) => remediate(subscriptionId, id))));
  return { machines: machineIds.length, writes };
}
