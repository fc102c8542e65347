/**
 * The ARM credential: a static bearer token when ARM_TOKEN is set (CI, the local emulator, a token
 * minted by `az account get-access-token`), otherwise DefaultAzureCredential (managed identity in
 * Azure, `az login` on a workstation). The token never leaves this module except in the
 * Authorization header the SDK pipeline adds.
 */
import { DefaultAzureCredential } from "@azure/identity";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import type { Settings } from "../config/settings.js";

/** A static token is taken to be valid for an hour: ARM tokens last 60-90 minutes. */
const STATIC_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

export function createCredential(settings: Pick<Settings, "armToken">): TokenCredential {
  const token = settings.armToken;
  if (token) {
    return {
      getToken: async (): Promise<AccessToken> => ({ token, expiresOnTimestamp: Date.now() + STATIC_TOKEN_LIFETIME_MS }),
    };
  }
  return new DefaultAzureCredential();
}
