/**
 * Marketplace images the built-in AMA policies accept (docs/azure-domain.md §5.2, scopeToSupportedImages).
 * Gallery and managed images never match those lists, so they are out of scope too unless the operator
 * turns the scoping off (SCOPE_TO_SUPPORTED_IMAGES=false), as the policy's parameter allows.
 */
import type { Os } from "../defender/agents.js";
import type { ImageReference } from "../model.js";

interface ImageRule {
  readonly publisher: string;
  /** Offer prefixes (lower-case); empty = any offer. */
  readonly offers: readonly string[];
}

const SUPPORTED: Readonly<Record<Os, readonly ImageRule[]>> = {
  Windows: [
    { publisher: "microsoftwindowsserver", offers: ["windowsserver"] },
    { publisher: "microsoftwindowsserverhpcpack", offers: ["windowsserverhpcpack"] },
    { publisher: "microsoftsqlserver", offers: [] },
    { publisher: "microsoftrserver", offers: ["mlserver-ws2016"] },
    { publisher: "microsoftvisualstudio", offers: ["visualstudio", "windows"] },
    { publisher: "microsoftdynamicsax", offers: ["dynamics"] },
    { publisher: "microsoft-ads", offers: ["windows-data-science-vm"] },
    { publisher: "microsoftwindowsdesktop", offers: ["windows-1"] },
  ],
  Linux: [
    { publisher: "redhat", offers: ["rhel"] },
    { publisher: "suse", offers: ["sles"] },
    { publisher: "canonical", offers: ["ubuntuserver", "0001-com-ubuntu-server-", "0001-com-ubuntu-pro-", "ubuntu-24_04-lts"] },
    { publisher: "oracle", offers: ["oracle-linux"] },
    { publisher: "openlogic", offers: ["centos"] },
    { publisher: "cloudera", offers: ["centos"] },
    { publisher: "almalinux", offers: ["almalinux"] },
    { publisher: "ciq", offers: ["rocky"] },
    { publisher: "resf", offers: ["rockylinux"] },
    { publisher: "credativ", offers: ["debian"] },
    { publisher: "debian", offers: ["debian-1"] },
    { publisher: "microsoftcblmariner", offers: ["cbl-mariner", "azure-linux"] },
  ],
};

export function isSupportedImage(os: Os, image: ImageReference | undefined): boolean {
  if (!image) return true;
  if (image.id || !image.publisher) return false;
  const publisher = image.publisher.toLowerCase();
  const offer = (image.offer ?? "").toLowerCase();
  return SUPPORTED[os].some((rule) => rule.publisher === publisher && (rule.offers.length === 0 || rule.offers.some((prefix) => offer.startsWith(prefix))));
}
