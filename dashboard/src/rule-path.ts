/**
 * Where an API error's `path` (e.g. `rule.all.1.op`) sits in the rule editor's text, so the message
 * is shown at that line, however the text is laid out. A small scanner walks the JSON text keeping
 * the path of the value it is in; a path that names something absent (a missing field) points at
 * the deepest part of it that is there.
 */

/**
 * The 1-based line of the value at `path` in `text`, or of the deepest part of the path that is
 * present; null when the text is not JSON or the path is not about the rule.
 * @example lineOfPath('{\n  "trait": "plan",\n  "op": "equals"\n}', "rule.op") // → 3
 */
export function lineOfPath(text: string, path: string | undefined): number | null {
  if (!path || (path !== "rule" && !path.startsWith("rule."))) return null;
  try {
    JSON.parse(text);
  } catch {
    return null;
  }
  const want = path.split(".").slice(1);
  // Where each value starts, by its path joined with dots ("" for the whole rule).
  const starts = new Map<string, number>();
  const stack: { kind: "object" | "array"; key: string | null; index: number }[] = [];
  const here = () => stack.map((s) => (s.kind === "array" ? String(s.index) : (s.key ?? ""))).join(".");
  const valueStarts = (at: number) => {
    if (!starts.has(here())) starts.set(here(), at);
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (/\s|,|:/.test(ch)) {
      if (ch === "," && stack.at(-1)?.kind === "array") stack.at(-1)!.index++;
      continue;
    }
    const top = stack.at(-1);
    if (ch === "}" || ch === "]") {
      stack.pop();
      const parent = stack.at(-1);
      if (parent?.kind === "object") parent.key = null;
      continue;
    }
    if (ch === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      const literal = JSON.parse(text.slice(i, end + 1)) as string;
      // A string right after `{` or `,` inside an object is a key.
      if (top?.kind === "object" && top.key === null) top.key = literal;
      else {
        valueStarts(i);
        if (top?.kind === "object") top.key = null;
      }
      i = end;
      continue;
    }
    valueStarts(i);
    if (ch === "{" || ch === "[") {
      stack.push({ kind: ch === "{" ? "object" : "array", key: null, index: 0 });
      continue;
    }
    // A number, true, false or null: skip to its end.
    while (i + 1 < text.length && /[^\s,\]}]/.test(text[i + 1]!)) i++;
    if (top?.kind === "object") top.key = null;
  }
  for (let depth = want.length; depth >= 0; depth--) {
    const at = starts.get(want.slice(0, depth).join("."));
    if (at !== undefined) return text.slice(0, at).split("\n").length;
  }
  return null;
}
