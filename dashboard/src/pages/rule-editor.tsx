/**
 * The rule editor: a JSON text box for the rule language (README "Segments"), a live size estimate
 * (`POST /segments/preview`, a moment after typing stops) and the API's validation message put at
 * the line its `path` names.
 */
import { useEffect, useState } from "preact/hooks";
import { api, toFailure, type ApiFailure } from "../api";
import { lineOfPath } from "../rule-path";
import { Field } from "../ui";

export const EXAMPLE_RULE = { all: [{ event: "Product Viewed", within: "7d" }] };

export interface RuleCheck {
  rule: unknown;
  parseError: string | null;
}

export function parseRuleText(text: string): RuleCheck {
  try {
    return { rule: JSON.parse(text), parseError: null };
  } catch (e) {
    return { rule: null, parseError: `Not JSON yet: ${(e as Error).message}` };
  }
}

export function RuleEditor({ text, onChange, serverError, readOnly }: { text: string; onChange: (text: string) => void; serverError?: ApiFailure | null; readOnly?: boolean }) {
  const [preview, setPreview] = useState<{ estimatedSize: number; sampled: number; matched: number; profiles: number } | null>(null);
  const [previewError, setPreviewError] = useState<ApiFailure | null>(null);
  const { rule, parseError } = parseRuleText(text);

  useEffect(() => {
    if (parseError) return;
    let live = true;
    const timer = setTimeout(async () => {
      try {
        const answer = await api<{ estimatedSize: number; sampled: number; matched: number; profiles: number }>("/segments/preview", { method: "POST", body: { rule } });
        if (live) {
          setPreview(answer);
          setPreviewError(null);
        }
      } catch (e) {
        if (live) {
          setPreview(null);
          setPreviewError(toFailure(e));
        }
      }
    }, 400);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [text]);

  const error = parseError ?? (previewError ?? serverError)?.message ?? null;
  const failure = previewError ?? serverError;
  const line = failure ? lineOfPath(text, failure.path) : null;
  const rows = Math.min(24, Math.max(6, text.split("\n").length + 1));
  return (
    <div class="rule-editor">
      <Field
        label="Rule (JSON)"
        error={error && (line ? `Line ${line}: ${error}` : error)}
        hint={
          <>
            <code>{"{all|any:[…]}"}</code>, <code>{"{not:…}"}</code>, <code>{"{trait, op, value}"}</code>, <code>{"{event, where?, within?, count?}"}</code>… (README "Segments").
          </>
        }
      >
        {(props) => (
          <div class="code-box">
            <div class="gutter" aria-hidden="true">
              {text.split("\n").map((_, i) => (
                <div class={line === i + 1 ? "bad" : ""}>{i + 1}</div>
              ))}
            </div>
            <textarea {...props} class="code" rows={rows} spellcheck={false} value={text} readOnly={readOnly} onInput={(e) => onChange(e.currentTarget.value)} />
          </div>
        )}
      </Field>
      <div class="actions">
        <button type="button" onClick={() => !parseError && onChange(JSON.stringify(rule, null, 2))} disabled={!!parseError || readOnly}>
          Format
        </button>
        <p class="preview" role="status" aria-live="polite">
          {preview ? (
            <>
              Estimated size: <strong data-testid="estimated-size">{preview.estimatedSize.toLocaleString()}</strong> of {preview.profiles.toLocaleString()} profiles ({preview.matched} of a sample of {preview.sampled} match)
            </>
          ) : parseError || previewError ? (
            "No estimate until the rule is valid."
          ) : (
            "Estimating…"
          )}
        </p>
      </div>
    </div>
  );
}
