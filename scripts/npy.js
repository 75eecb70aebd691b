// Minimal .npy (format 1.0) reading and writing for the data scripts.
// Only what they need: C-order arrays with a little-endian dtype.
'use strict';
const fs = require('fs');
const path = require('path');

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // "\x93NUMPY"
const ITEM_SIZE = { '<f4': 4, '<f8': 8, '<i8': 8, '<i4': 4, '|u1': 1 };

// Header of a v1.0 file: magic, version, uint16 length, then a Python dict
// literal padded with spaces and ending in '\n' so that the data starts at a
// multiple of 64 bytes (what numpy writes).
function header(descr, shape) {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(head, 0);
  head[6] = 1; // major version
  head[7] = 0; // minor version
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1')]);
}

// Parse a .npy buffer; returns { descr, shape, dataOffset }.
function parse(buffer, name) {
  if (buffer.length < 10 || !buffer.subarray(0, 6).equals(MAGIC)) {
    throw new Error(`${name}: not a .npy file`);
  }
  const major = buffer[6];
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? buffer.readUInt16LE(8) : buffer.readUInt32LE(8);
  const dataOffset = 8 + lengthBytes + headerLength;
  const dict = buffer.toString('latin1', 8 + lengthBytes, dataOffset);
  const descr = /'descr':\s*'([^']+)'/.exec(dict);
  const order = /'fortran_order':\s*(True|False)/.exec(dict);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(dict);
  if (!descr || !order || !shape || dataOffset > buffer.length) {
    throw new Error(`${name}: malformed .npy header`);
  }
  if (order[1] !== 'False') throw new Error(`${name}: Fortran-order arrays are not supported`);
  if (!(descr[1] in ITEM_SIZE)) throw new Error(`${name}: unsupported dtype ${descr[1]}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  if (buffer.length - dataOffset !== count * ITEM_SIZE[descr[1]]) {
    throw new Error(`${name}: data size does not match shape (${dims.join(', ')})`);
  }
  return { descr: descr[1], shape: dims, dataOffset };
}

// Write via a temporary file in the same folder renamed into place, so a
// reader never sees half a file.
function writeAtomically(file, chunks) {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    fs.writeFileSync(temporary, Buffer.concat(chunks));
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

// data: a Float32Array of rows * columns values in C order.
function writeFloat32(file, data, rows, columns) {
  if (data.length !== rows * columns) throw new Error(`${file}: ${data.length} values for (${rows}, ${columns})`);
  const bytes = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) bytes.writeFloatLE(data[i], i * 4);
  writeAtomically(file, [header('<f4', [rows, columns]), bytes]);
}

module.exports = { header, parse, writeAtomically, writeFloat32, ITEM_SIZE };
