/**
 * Messages a profile change owes the pipeline that the profile builds itself (the others are in
 * `pipeline/messages.ts`): ledger entries and exposure events. Their ids are fixed when they are
 * written to the outbox, so a resend is recognised downstream.
 */
import type { CollectedEvent } from "../collect/normalise";
import type { ConsentState } from "../consent/purposes";
import { ledgerSignals } from "../consent/request";
import type { ConsentSignals } from "../consent/resolve";
import { parseProfileKey } from "../identity/keys";
import type { PipelineMessage } from "../pipeline/messages";

/** A consent change on its way to the ledger; `subject` is the profile key (null without a profile). */
export function ledgerMessage(site: { workspaceId: string; id: string }, subject: string | null, signals: ConsentSignals, consent: ConsentState, at = Date.now()): PipelineMessage {
  return { kind: "consent", id: crypto.randomUUID(), workspaceId: site.workspaceId, siteId: site.id, subject, at, signals: ledgerSignals(signals), consent };
}

/** An event the profile recorded itself (an exposure), on its way to the archive. */
export function archiveMessage(profileKey: string, siteId: string, event: CollectedEvent): PipelineMessage {
  return { kind: "event", workspaceId: parseProfileKey(profileKey)?.workspaceId ?? "", siteId, profileKey, event };
}
