#!/usr/bin/env node
// Validates JSON Feed documents against jsonfeed.schema.json with ajv (a validator we did not
// write) and ajv-formats (absolute URIs, RFC 3339 date-times). Prints "ok FILE" or "FAIL FILE: why"
// per document and exits 1 if any fails. The oracles are installed under tests/oracles/node_modules.
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const oracles = process.env.ALMANAC_ORACLES_DIR || path.join(__dirname, '..', '..', 'oracles');
const requireOracle = createRequire(path.join(oracles, 'package.json'));
const Ajv2020 = requireOracle('ajv/dist/2020').default;
const addFormats = requireOracle('ajv-formats').default;

// strictRequired would reject the schema's anyOf-of-required idiom ("name, url or avatar").
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(__dirname, 'jsonfeed.schema.json'), 'utf8')));

let failed = 0;
for (const file of process.argv.slice(2)) {
  let problem = null;
  try {
    if (!validate(JSON.parse(fs.readFileSync(file, 'utf8')))) {
      problem = validate.errors.slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    }
  } catch (e) {
    problem = e.message;
  }
  if (problem) {
    failed++;
    console.log(`FAIL ${file}: ${problem}`);
  } else {
    console.log(`ok ${file}`);
  }
}
process.exit(failed ? 1 : 0);
