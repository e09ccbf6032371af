// The import file's record splitting (byte ranges, quoted newlines) and a row's typing and checks.
import { describe, expect, it } from "vitest";
import { csvFields, splitRecords } from "../../../worker/sources/csv";
import { csvRow, ndjsonRow, rowMessageId, typedCell } from "../../../worker/sources/rows";

const bytes = (s: string) => new TextEncoder().encode(s);
const texts = (s: string, final: boolean, maxRecords = 100, quoted = true) => {
  const b = bytes(s);
  const split = splitRecords(b, { final, maxRecords, quoted });
  return { records: split.records.map((r) => new TextDecoder().decode(b.subarray(r.start, r.end))), consumed: split.consumed };
};

describe("splitRecords", () => {
  it.each([
    { input: "a,b\nc,d\n", final: true, records: ["a,b", "c,d"], consumed: 8 },
    { input: "a,b\r\nc,d", final: true, records: ["a,b", "c,d"], consumed: 8 },
    { input: "a,b\nc,d", final: false, records: ["a,b"], consumed: 4 },
    { input: 'a,"x\ny"\nc', final: false, records: ['a,"x\ny"'], consumed: 8 },
    { input: 'a,"x\ny', final: false, records: [], consumed: 0 },
    { input: "a\n\n\nb\n", final: true, records: ["a", "b"], consumed: 6 },
  ])("$input (final: $final)", ({ input, final, records, consumed }) => {
    expect(texts(input, final)).toEqual({ records, consumed });
  });

  it("stops at maxRecords, consuming only what it took", () => {
    expect(texts("a\nb\nc\n", true, 2)).toEqual({ records: ["a", "b"], consumed: 4 });
  });

  it("ignores quotes in NDJSON (a JSON string holds no raw newline)", () => {
    expect(texts('{"a":"\\""}\n{"b":1}\n', true, 10, false).records).toEqual(['{"a":"\\""}', '{"b":1}']);
  });
});

describe("csvFields", () => {
  it.each([
    { record: "a,b,c", fields: ["a", "b", "c"] },
    { record: 'a,"b,c",d', fields: ["a", "b,c", "d"] },
    { record: '"say ""hi""",x', fields: ['say "hi"', "x"] },
    { record: '"line\nbreak",', fields: ["line\nbreak", ""] },
    { record: "", fields: [""] },
  ])("$record", ({ record, fields }) => expect(csvFields(record)).toEqual(fields));
});

describe("typedCell", () => {
  it.each([
    ["42", 42],
    ["-1.5", -1.5],
    ["0", 0],
    ["007", "007"],
    ["1e3", "1e3"],
    ["+1", "+1"],
    ["12345678901234567890", "12345678901234567890"],
    ["true", true],
    ["FALSE", false],
    ["yes", "yes"],
    ["2024-05-01", "2024-05-01"],
    ["", undefined],
  ])("%j → %j", (cell, value) => expect(typedCell(cell)).toEqual(value));
});

describe("rows", () => {
  it("maps traits.x and x to trait x and normalises the email", () => {
    expect(csvRow(["userId", "email", "traits.plan", "seats"], ["u", " A@B.CO ", "pro", "3"])).toEqual({ ok: true, row: { userId: "u", email: "a@b.co", traits: { email: "a@b.co", plan: "pro", seats: 3 } } });
  });

  it.each([
    { columns: ["userId"], cells: [""], message: "names no profile: it needs a userId or an email" },
    { columns: ["email"], cells: ["a@b"], message: "email: is not an email address" },
    { columns: ["userId"], cells: ["x".repeat(256)], message: "userId: must be 1 to 255 characters of text" },
    { columns: ["userId", "x".repeat(129)], cells: ["u", "1"], message: `trait "${"x".repeat(40)}": its name must be 1 to 128 characters` },
  ])("refuses $message", ({ columns, cells, message }) => expect(csvRow(columns, cells)).toEqual({ ok: false, message }));

  it("takes NDJSON values as typed", () => {
    expect(ndjsonRow('{"userId":7,"traits":{"a":"007","b":null},"c":[1]}')).toEqual({ ok: true, row: { userId: "7", traits: { a: "007", c: [1] } } });
  });

  it("derives the same messageId from the same site and content, another from another", async () => {
    const row = { userId: "u", traits: { b: 1, a: 2 } };
    const same = await rowMessageId("site_1", { userId: "u", traits: { a: 2, b: 1 } });
    expect(await rowMessageId("site_1", row)).toBe(same);
    expect(await rowMessageId("site_2", row)).not.toBe(same);
    expect(await rowMessageId("site_1", { userId: "u", traits: { a: 2, b: 2 } })).not.toBe(same);
    // Pinned: a change would make every earlier import apply again.
    expect(same).toBe("import:4c5e2f418022eae674b2ea6428901769131ef0fc5f669f1221deea0fd45721f0");
  });
});
