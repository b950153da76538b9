// A small static server for dist-web/ (or --dir DIR), on 127.0.0.1 only:
//   node scripts/serve-web.mjs [--port 8080] [--dir dist-web] [--no-isolation]
// Sends application/wasm for .wasm (WebAssembly.compileStreaming needs it) and, unless
// --no-isolation, COOP/COEP so the page is cross-origin isolated and can use threads.
// Prints "serving http://127.0.0.1:PORT/" once listening (--port 0 picks a free port).
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    dir: { type: 'string', default: fileURLToPath(new URL('../dist-web', import.meta.url)) },
    'no-isolation': { type: 'boolean', default: false },
  },
});
const root = resolve(values.dir);
const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.map': 'application/json', '.wasm': 'application/wasm',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.svg': 'image/svg+xml', '.pt': 'application/octet-stream', '.xz': 'application/x-xz',
};
const isolation = values['no-isolation'] ? {} : {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

const server = createServer((req, res) => {
  const send = (status, body) => { res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...isolation }); res.end(body); };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
  let path;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return send(400, 'bad path\n');
  }
  if (path.endsWith('/')) path += 'index.html';
  const file = normalize(join(root, path));
  if (file !== root && !file.startsWith(root + sep)) return send(403, 'forbidden\n');
  let st;
  try { st = statSync(file); } catch { return send(404, 'not found\n'); }
  if (!st.isFile()) return send(404, 'not found\n');
  res.writeHead(200, {
    'content-type': MIME[extname(file)] ?? 'application/octet-stream',
    'content-length': st.size,
    'cache-control': 'no-cache',
    ...isolation,
  });
  if (req.method === 'HEAD') return res.end();
  createReadStream(file).pipe(res);
});
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`serving http://127.0.0.1:${server.address().port}/ from ${root}${values['no-isolation'] ? ' (not cross-origin isolated)' : ''}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
