// Types for the migrations module drizzle-kit generates (plain JS importing the .sql files).
declare const migrations: {
  journal: { entries: { idx: number; when: number; tag: string; breakpoints: boolean }[] };
  migrations: Record<string, string>;
};
export default migrations;
