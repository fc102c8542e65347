import { vi } from "vitest";

export interface CapturedRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs an in-process entry point (the CLI's `main`) with stdout and stderr captured. */
export async function captureOutput(run: () => Promise<number>): Promise<CapturedRun> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
  try {
    const code = await run();
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}
