/**
 * Splitting an import file into records, one byte range at a time. A chunk of an import is a byte
 * range of the R2 object: only the records that end inside it are taken, and the next chunk starts
 * where the last of them ended, so a record cut by a range boundary is read whole by the next chunk.
 *
 * Written here rather than taken from a CSV library because the chunking needs *byte* offsets of
 * record ends (CSV parsers such as papaparse count characters of decoded text). The scan works on
 * bytes: `"`, `,`, CR and LF are ASCII and never part of a multi-byte UTF-8 sequence, so a record
 * boundary is found without decoding, and a quoted CSV field may hold newlines.
 */

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

export interface RecordSpan {
  /** Byte offsets in the range, `end` exclusive and without the line break. */
  start: number;
  end: number;
}

export interface Split {
  records: RecordSpan[];
  /** Bytes of the range the records use, up to and including the last one's line break. */
  consumed: number;
}

/**
 * The complete records of `bytes` (at most `maxRecords`, blank lines skipped and not counted).
 * With `final` (the range reaches the end of the file) a last record without a line break counts.
 * `quoted`: CSV, where a line break inside double quotes is part of the field.
 */
export function splitRecords(bytes: Uint8Array, options: { final: boolean; maxRecords: number; quoted: boolean }): Split {
  const records: RecordSpan[] = [];
  let start = 0;
  let inQuotes = false;
  let consumed = 0;
  const take = (end: number) => {
    let stop = end;
    if (stop > start && bytes[stop - 1] === CR) stop--;
    if (stop > start) records.push({ start, end: stop });
  };
  for (let i = 0; i < bytes.length && records.length < options.maxRecords; i++) {
    const byte = bytes[i];
    if (byte === QUOTE && options.quoted) inQuotes = !inQuotes;
    else if (byte === LF && !inQuotes) {
      take(i);
      start = i + 1;
      consumed = start;
    }
  }
  if (options.final && records.length < options.maxRecords && start < bytes.length) {
    take(bytes.length);
    consumed = bytes.length;
  }
  return { records, consumed };
}

/**
 * The fields of one CSV record (RFC 4180): comma-separated; a field in double quotes may hold
 * commas, line breaks and `""` for a quote. Text outside quotes is kept as it is.
 */
export function csvFields(record: string): string[] {
  const fields: string[] = [];
  let field = "";
  let inQuotes = false;
  for (let i = 0; i < record.length; i++) {
    const ch = record[i];
    if (inQuotes) {
      if (ch === '"' && record[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') inQuotes = false;
      else field += ch;
    } else if (ch === '"' && field === "") inQuotes = true;
    else if (ch === ",") fields.push(field), (field = "");
    else field += ch;
  }
  fields.push(field);
  return fields;
}
