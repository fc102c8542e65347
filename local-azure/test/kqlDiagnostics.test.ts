import { describe, expect, it } from "vitest";
import { resourceGraphDiagnostics } from "../src/kqlDiagnostics.js";

describe("resourceGraphDiagnostics", () => {
  it.each([
    "resources | where type =~ 'microsoft.compute/virtualmachines' | project id, name, tags, properties | order by id asc",
    "Resources | join kind=leftouter (ResourceContainers | where type =~ 'microsoft.resources/subscriptions' | project subscriptionId, subscriptionName = name) on subscriptionId | take 5",
    "resources | mv-expand zone = zones limit 400 | summarize count() by tostring(zone) | top 3 by count_",
    "resources | union withsource = table resourcecontainers, securityresources | project-away properties | distinct table, type",
    "policyresources | extend scope = tolower(tostring(properties.scope)) | where isnotempty(scope) | count",
    // The change tables, as get-resource-changes.md queries them.
    "resourcechanges | extend changeTime = todatetime(properties.changeAttributes.timestamp) | where changeTime > ago(1d) and resourceGroup == 'rg' | order by changeTime desc | project changeTime, properties.changeType",
    "ResourceContainerChanges | summarize count() by changeType = tostring(properties.changeType), subscriptionId",
  ])("accepts a Resource Graph query: %s", (query) => {
    expect(resourceGraphDiagnostics(query)).toEqual([]);
  });

  it.each([
    ["a syntax error", "resources | where type =~", "Missing expression"],
    ["an unknown column", "resources | where diskState == 'Attached'", "The name 'diskState' does not refer to any known column"],
    ["a table Resource Graph does not have", "SecurityAlert | take 1", "The name 'SecurityAlert' does not refer to any known table"],
    ["parse", "resources | parse name with prefix '-' suffix", "'parse' is not a Resource Graph operator"],
    ["make-series", "resources | make-series count() default = 0 on todatetime(properties.timeCreated) step 1d", "'make-series' is not a Resource Graph operator"],
    ["evaluate", "resources | evaluate bag_unpack(properties)", "'evaluate' is not a Resource Graph operator"],
    [
      "a 4th join",
      "resources | join (resources | project id) on id | join (resources | project id) on id | join (resources | project id) on id | join (resources | project id) on id",
      "4 joins: Resource Graph allows 3 in a query",
    ],
    ["join kind=fullouter", "resources | join kind=fullouter (resourcecontainers) on subscriptionId", "join kind=fullouter is not a Resource Graph join kind"],
    ["a join strategy", "resources | join hint.strategy=broadcast (resourcecontainers) on subscriptionId", "allows no custom join strategy"],
    ["a union of 4 legs", "resources | union resourcecontainers, securityresources, policyresources", "4 union legs: Resource Graph allows 3 in a query"],
    ["4 legs over chained unions", "resources | union resourcecontainers | union securityresources | union policyresources", "4 union legs"],
    ["a fuzzy union", "resources | union isfuzzy=true resourcecontainers", "union isfuzzy=true is not allowed"],
    ["a 3rd mv-expand", "resources | mv-expand a = zones | mv-expand b = zones | mv-expand c = zones", "3 mv-expands: Resource Graph allows 2 in a query"],
    ["an mv-expand over 400 rows", "resources | mv-expand zones limit 401", "mv-expand limit 401 is over Resource Graph's 400"],
  ])("reports %s", (_, query, diagnostic) => {
    expect(resourceGraphDiagnostics(query)).toContainEqual(expect.stringContaining(diagnostic));
  });
});
