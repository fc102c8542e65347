import { ensureLocalCertificate } from "./tls.js";

/**
 * Vitest global setup: make sure the emulator's certificate exists and that forked workers trust it.
 * Node reads NODE_EXTRA_CA_CERTS only at process start, so it must be set here, before workers fork.
 */
export default async function setup(): Promise<void> {
  const { certPath } = await ensureLocalCertificate();
  process.env.NODE_EXTRA_CA_CERTS = certPath;
}
