/** What every page knows: who is signed in (role, workspace) and which site is chosen. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Session } from "./auth";

export interface Site {
  id: string;
  name: string;
  writeKey: string;
  origins: string[];
  cookieDomain: string | null;
  identityVerification: string;
  enabled: boolean;
  purposes: string[];
  retentionDays: number;
  createdAt: string;
}

export interface AppState {
  session: Session;
  sites: Site[];
  site: Site | null;
  reloadSites: () => void;
}

export const AppContext = createContext<AppState | null>(null);
export const useApp = () => useContext(AppContext)!;

/** The tag's snippet for a site, as the README gives it, pointing at this server. */
export const snippet = (site: Site) =>
  `<script>window.cohort=window.cohort||function(){(cohort.q=cohort.q||[]).push(arguments)}</script>\n<script async src="${location.origin}/t.js" data-key="${site.writeKey}"></script>`;
