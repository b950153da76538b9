/** Node: the training data's file interface over the file system (bounded, regular files only). */
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import type { DataFiles } from '../train/data.js';
import { readRegularFile } from './files.js';
import { MAX_IMAGE_FILE_BYTES } from './segment.js';

export function nodeDataFiles(): DataFiles {
  return {
    async list(folder) {
      const entries = await fs.readdir(folder, { withFileTypes: true });
      return entries.filter((e) => e.isFile()).map((e) => e.name);
    },
    read: (path) => readRegularFile(path, MAX_IMAGE_FILE_BYTES),
    join: (folder, relative) => resolve(folder, relative),
  };
}
