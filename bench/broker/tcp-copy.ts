// Loopback TCP baseline for `npm run bench:broker`: one Node process sends BYTES in CHUNK-byte
// writes (respecting backpressure) to another over 127.0.0.1, which counts them. The receiver
// times from its first to its last byte and prints one JSON line {bytes, seconds, cpuSeconds}.
//
//   node tcp-copy.js recv BYTES              prints `listening PORT`, then the JSON line
//   node tcp-copy.js send PORT BYTES CHUNK
import { createConnection, createServer } from 'node:net';

const [mode, a, b, c] = process.argv.slice(2);

function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

if (mode === 'recv') {
  const total = Number(a);
  const server = createServer((socket) => {
    let got = 0;
    let t0 = 0;
    let cpu0 = 0;
    socket.on('data', (chunk: Buffer) => {
      if (got === 0) {
        t0 = now();
        cpu0 = cpuSeconds();
      }
      got += chunk.length;
      if (got >= total) {
        const seconds = now() - t0;
        process.stdout.write(`${JSON.stringify({ bytes: got, seconds, cpuSeconds: cpuSeconds() - cpu0 })}\n`);
        socket.destroy();
        server.close();
      }
    });
    socket.on('error', () => server.close());
  });
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    process.stdout.write(`listening ${typeof addr === 'object' && addr !== null ? addr.port : 0}\n`);
  });
} else if (mode === 'send') {
  const port = Number(a);
  const total = Number(b);
  const chunkBytes = Number(c);
  const chunk = Buffer.alloc(chunkBytes, 0x5a);
  const socket = createConnection({ port, host: '127.0.0.1', noDelay: true }, () => {
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const n = Math.min(chunkBytes, total - sent);
        sent += n;
        if (!socket.write(n === chunkBytes ? chunk : chunk.subarray(0, n))) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  });
  socket.on('error', (e) => {
    process.stderr.write(`tcp-copy send: ${e.message}\n`);
    process.exitCode = 1;
  });
} else {
  process.stderr.write('usage: tcp-copy.js recv BYTES | send PORT BYTES CHUNK\n');
  process.exitCode = 2;
}
