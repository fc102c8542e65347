/** An ARM error response: status plus the `{ error: { code, message } }` body real ARM sends. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly details?: { code: string; message: string }[],
  ) {
    super(message);
    this.name = "ArmError";
  }

  body(): { error: { code: string; message: string; details?: { code: string; message: string }[] } } {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

export function resourceNotFound(type: string, name: string, resourceGroup?: string): ArmError {
  const where = resourceGroup ? ` under resource group '${resourceGroup}'` : "";
  return new ArmError(404, "ResourceNotFound", `The Resource '${type}/${name}'${where} was not found.`);
}

export function resourceGroupNotFound(resourceGroup: string): ArmError {
  return new ArmError(404, "ResourceGroupNotFound", `Resource group '${resourceGroup}' could not be found.`);
}

export function subscriptionNotFound(subscriptionId: string): ArmError {
  return new ArmError(404, "SubscriptionNotFound", `The subscription '${subscriptionId}' could not be found.`);
}

export function parentResourceNotFound(parentId: string): ArmError {
  return new ArmError(
    404,
    "ParentResourceNotFound",
    `Can not perform requested operation on nested resource. Parent resource '${parentId}' not found.`,
  );
}

export function anotherOperationInProgress(): ArmError {
  return new ArmError(409, "Conflict", "Another operation on this or dependent resource is in progress.");
}

export function tooManyRequests(retryAfterSeconds: number, code = "TooManyRequests", message?: string): ArmError {
  return new ArmError(
    429,
    code,
    message ?? "The request is being throttled as the limit has been reached for operation type.",
    { "retry-after": String(retryAfterSeconds) },
  );
}
