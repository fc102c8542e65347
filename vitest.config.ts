import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "local-azure/test/**/*.test.ts"],
    pool: "forks",
    globalSetup: "local-azure/src/global-setup.ts",
    testTimeout: 30_000,
    // CI also writes a machine-readable summary, from which .ci/run prints its closing line.
    reporters: process.env["CI"] ? ["default", ["json", { outputFile: ".ci-results/vitest.json" }]] : ["default"],
    hookTimeout: 30_000,
  },
});
