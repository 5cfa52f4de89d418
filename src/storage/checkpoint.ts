/**
 * A partition's checkpoint file, `partition.checkpoint`, written atomically (temp file,
 * fsync, rename, fsync of the directory) so a crash leaves either the old or the new one:
 *
 *   ferry-partition-checkpoint 1
 *   recovery-point <offset>        every batch below this offset is fsynced
 *   log-start-offset <offset>      the first offset readers may see (DeleteRecords, retention)
 *   crc32c <8 hex digits>          of the lines above, newline included
 *
 * and the clean-shutdown marker, `clean-shutdown`, an empty file written last on a clean
 * close and removed (durably) on open, so its presence means the files were left complete.
 */
import { crc32c } from '../protocol/crc32c.js';
import { type FileSystem, writeFileDurably } from './file-system.js';

export const CHECKPOINT_FILE = 'partition.checkpoint';
export const CLEAN_SHUTDOWN_FILE = 'clean-shutdown';

export interface PartitionCheckpoint {
  recoveryPoint: number;
  logStartOffset: number;
}

export function encodeCheckpoint(c: PartitionCheckpoint): Buffer {
  const body = `ferry-partition-checkpoint 1\nrecovery-point ${c.recoveryPoint}\nlog-start-offset ${c.logStartOffset}\n`;
  const crc = crc32c(Buffer.from(body)).toString(16).padStart(8, '0');
  return Buffer.from(`${body}crc32c ${crc}\n`);
}

/** Returns null for a file that is not a complete, intact checkpoint. */
export function decodeCheckpoint(data: Buffer): PartitionCheckpoint | null {
  const text = data.toString('utf8');
  const m = /^(ferry-partition-checkpoint 1\nrecovery-point (\d+)\nlog-start-offset (\d+)\n)crc32c ([0-9a-f]{8})\n$/.exec(text);
  if (m === null) return null;
  if (crc32c(Buffer.from(m[1]!)).toString(16).padStart(8, '0') !== m[4]) return null;
  const recoveryPoint = Number(m[2]);
  const logStartOffset = Number(m[3]);
  if (!Number.isSafeInteger(recoveryPoint) || !Number.isSafeInteger(logStartOffset)) return null;
  return { recoveryPoint, logStartOffset };
}

export async function readCheckpoint(fs: FileSystem, dir: string): Promise<PartitionCheckpoint | null> {
  if ((await fs.stat(`${dir}/${CHECKPOINT_FILE}`)) === null) return null;
  return decodeCheckpoint(await fs.readFile(`${dir}/${CHECKPOINT_FILE}`));
}

export function writeCheckpoint(fs: FileSystem, dir: string, c: PartitionCheckpoint): Promise<void> {
  return writeFileDurably(fs, dir, CHECKPOINT_FILE, encodeCheckpoint(c));
}
