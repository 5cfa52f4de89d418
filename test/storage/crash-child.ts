/**
 * The child process of crash.test.ts: opens (and so recovers) a PartitionLog on the real
 * file system and appends batchForSeq(startSeq), batchForSeq(startSeq + 1), ... with several
 * appends in flight at once, most of them durable, until the parent kills it with SIGKILL.
 * A reader follows the tail meanwhile and checks every batch it reads; retention runs now
 * and then so that segments are deleted too.
 *
 *   node crash-child.js <dir> <startSeq> <seed> <closeAfterAcks | 0>
 *
 * Lines on stdout (a pipe, written synchronously on Linux, so a line the parent received
 * was written after the event it reports):
 *
 *   ready <logStartOffset> <logEndOffset>      after open (recovery)
 *   ack <seq> <baseOffset> <lastOffset>        a durable append was acknowledged
 *   wack <seq> <baseOffset> <lastOffset>       a non-durable append was acknowledged
 *   closing                                    close() starts (closeAfterAcks reached)
 *   closed                                     close() finished
 *   error <message>                            something failed; the exit code is 1
 */
import { StorageError } from '../../src/storage/storage-errors.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { CRASH_LOG_CONFIG, batchForSeq, rng, walkAndVerify } from './crash-workload.js';

const [dir, startSeqArg, seedArg, closeAfterArg] = process.argv.slice(2);
if (dir === undefined || startSeqArg === undefined || seedArg === undefined || closeAfterArg === undefined) {
  process.stderr.write('usage: crash-child <dir> <startSeq> <seed> <closeAfterAcks>\n');
  process.exit(2);
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function fail(e: unknown): never {
  const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
  out(`error ${message.replace(/\n/g, ' | ')}`);
  process.exit(1);
}

// A child the parent forgot to kill stops by itself.
setTimeout(() => fail(new Error('not killed within 20 s')), 20_000).unref();
process.stdout.on('error', () => process.exit(3));

async function main(): Promise<void> {
  const random = rng(Number(seedArg));
  const closeAfter = Number(closeAfterArg);
  let wake: (() => void) | null = null;
  const log = await PartitionLog.open(dir!, CRASH_LOG_CONFIG, {
    log: () => undefined,
    onAppend: () => {
      const w = wake;
      wake = null;
      w?.();
    },
  });
  out(`ready ${log.logStartOffset} ${log.logEndOffset}`);

  let seq = Number(startSeqArg);
  let acks = 0;
  let stopping = false;
  let retaining = false;

  const writer = async (): Promise<void> => {
    while (!stopping) {
      const s = seq++;
      const durable = random() < 0.8;
      // append() assigns offsets synchronously, so offsets follow sequence numbers.
      const r = await log.append(batchForSeq(s), { durable });
      out(`${durable ? 'ack' : 'wack'} ${s} ${r.baseOffset} ${r.lastOffset}`);
      acks++;
      if (closeAfter > 0 && acks >= closeAfter) stopping = true;
      if (acks % 50 === 0 && !retaining) {
        retaining = true;
        log.applyRetention().then(
          () => (retaining = false),
          (e: unknown) => fail(e),
        );
      }
      if (random() < 0.02) await log.flush();
    }
  };

  // Follows the tail, checking every batch read while writes, rolls and retention go on.
  const reader = async (): Promise<void> => {
    let offset = log.logStartOffset;
    while (!stopping) {
      if (offset >= log.logEndOffset) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 5);
        });
        continue;
      }
      try {
        const r = await walkAndVerify(log, 1 + Math.floor(random() * 64 * 1024), offset);
        if (r.batches.length > 0) offset = r.batches[r.batches.length - 1]!.lastOffset + 1;
      } catch (e) {
        // Retention may move the log start past the reader; start again from there.
        if (e instanceof StorageError && e.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE && offset < log.logStartOffset) {
          offset = log.logStartOffset;
          continue;
        }
        throw e;
      }
    }
  };

  const inFlight = 1 + Math.floor(random() * 12);
  const workers: Promise<void>[] = [reader()];
  for (let i = 0; i < inFlight; i++) workers.push(writer());
  await Promise.all(workers);
  out('closing');
  await log.close();
  out('closed');
  process.exit(0);
}

main().catch(fail);
