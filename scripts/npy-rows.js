#!/usr/bin/env node
// Copy a range of rows (samples) of a C-order .npy array into a new file.
//
//   node scripts/npy-rows.js <in.npy> <first-row> <row-count> <out.npy>
//
// The mdnmf CLI has no slicing command; the demo uses this to split data into
// training and test samples.  Fails if the input has fewer rows than asked.
'use strict';
const fs = require('fs');
const npy = require('./npy.js');

function parseCount(text, what) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${what} must be a non-negative integer, not '${text}'`);
  return value;
}

function main(argv) {
  if (argv.length !== 4) {
    console.error('usage: npy-rows.js <in.npy> <first-row> <row-count> <out.npy>');
    return 2;
  }
  const [input, firstText, countText, output] = argv;
  const first = parseCount(firstText, 'first-row');
  const count = parseCount(countText, 'row-count');
  const buffer = fs.readFileSync(input);
  const { descr, shape, dataOffset } = npy.parse(buffer, input);
  if (shape.length < 1 || first + count > shape[0]) {
    throw new Error(`${input}: has ${shape[0]} rows, asked for rows ${first}..${first + count - 1}`);
  }
  const rowBytes = shape.slice(1).reduce((a, b) => a * b, 1) * npy.ITEM_SIZE[descr];
  const start = dataOffset + first * rowBytes;
  npy.writeAtomically(output, [npy.header(descr, [count, ...shape.slice(1)]),
                               buffer.subarray(start, start + count * rowBytes)]);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(`npy-rows: ${error.message}`);
  process.exitCode = 1;
}
