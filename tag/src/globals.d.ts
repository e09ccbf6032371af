/** Replaced at build time by tag/build.mjs with the version from package.json. */
declare const __VERSION__: string;

/** Global Privacy Control (https://privacycg.github.io/gpc-spec/), not yet in TypeScript's DOM library. */
interface Navigator {
  readonly globalPrivacyControl?: boolean;
}
