// The rule editor puts the API's validation message at the line its `path` names
// (dashboard/src/rule-path.ts), whatever the layout of the text.
import { describe, expect, it } from "vitest";
import { lineOfPath } from "../../dashboard/src/rule-path";

const pretty = JSON.stringify({ all: [{ event: "Product Viewed" }, { trait: "plan", op: "equals", value: "pro" }] }, null, 2);
const compact = '{"all":[{"event":"Product Viewed"},\n{"trait":"plan","op":"equals","value":"pro"}]}';
const nested = '{\n  "not": {\n    "any": [\n      {"consent": "ads"},\n      {"segment": "seg_1",\n       "extra": [1, {"x": true}]}\n    ]\n  }\n}';

describe("lineOfPath", () => {
  it.each([
    ["the whole rule", pretty, "rule", 1],
    ["a clause's operator, pretty-printed", pretty, "rule.all.1.op", 8],
    ["a clause's value, pretty-printed", pretty, "rule.all.1.value", 9],
    ["the first clause", pretty, "rule.all.0", 3],
    ["a field on the second line of compact text", compact, "rule.all.1.op", 2],
    ["a clause on the first line of compact text", compact, "rule.all.0.event", 1],
    ["a missing field: the clause that lacks it", pretty, "rule.all.1.within", 6],
    ["deep inside nested arrays and objects", nested, "rule.not.any.1.extra.1.x", 6],
    ["the value after a nested object closed", nested, "rule.not.any.1.segment", 5],
    ["a consent purpose", nested, "rule.not.any.0.consent", 4],
  ])("%s", (_what, text, path, line) => {
    expect(lineOfPath(text, path)).toBe(line);
  });

  it("has no line for text that is not JSON, or for a path outside the rule", () => {
    expect(lineOfPath('{"all": [', "rule.all.0")).toBeNull();
    expect(lineOfPath(pretty, "name")).toBeNull();
    expect(lineOfPath(pretty, undefined)).toBeNull();
  });

  it("reads escaped quotes inside strings as part of the string", () => {
    expect(lineOfPath('{"trait": "a\\"b",\n "op": "eq"}', "rule.op")).toBe(2);
  });
});
