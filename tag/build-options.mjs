// How the tag is bundled, and how the bench bundles the peers' tags to compare like with like.
export const TAG_BUILD_OPTIONS = {
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  platform: "browser",
  legalComments: "none",
  write: false,
};
