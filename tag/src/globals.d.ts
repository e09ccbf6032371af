/** Replaced at build time by tag/build.mjs with the version from package.json. */
declare const __VERSION__: string;
