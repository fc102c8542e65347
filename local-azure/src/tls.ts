import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { generate } from "selfsigned";

export interface LocalCertificate {
  certPath: string;
  keyPath: string;
  cert: string;
  key: string;
}

/**
 * A throwaway self-signed certificate for `localhost` / `127.0.0.1`, generated once and reused.
 * The SDKs refuse bearer tokens over plain http, so the emulator must speak TLS; clients trust this
 * certificate through NODE_EXTRA_CA_CERTS.
 */
export async function ensureLocalCertificate(dir = ".local-azure"): Promise<LocalCertificate> {
  const tlsDir = resolve(dir, "tls");
  const certPath = join(tlsDir, "cert.pem");
  const keyPath = join(tlsDir, "key.pem");
  const existing = await readPair(certPath, keyPath);
  if (existing) return existing;

  await mkdir(resolve(dir), { recursive: true });
  // Generate into a private directory and rename it into place, so that processes racing here never
  // see a key from one run next to a certificate from another.
  const staging = await mkdtemp(join(resolve(dir), "tls-"));
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keySize: 2048,
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 5 * 365 * 24 * 3600 * 1000),
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
        ],
      },
    ],
  });
  await writeFile(join(staging, "cert.pem"), pems.cert);
  await writeFile(join(staging, "key.pem"), pems.private, { mode: 0o600 });
  try {
    await rename(staging, tlsDir);
  } catch {
    await rm(staging, { recursive: true, force: true }); // another process won the race: use its pair
  }
  const pair = await readPair(certPath, keyPath);
  if (!pair) throw new Error(`could not create a local certificate in ${tlsDir}`);
  return pair;
}

async function readPair(certPath: string, keyPath: string): Promise<LocalCertificate | undefined> {
  try {
    const [cert, key] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
    return { certPath, keyPath, cert, key };
  } catch {
    return undefined;
  }
}
