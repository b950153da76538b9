/**
 * The image decoder behind `freqreg segment`: a worker the main thread starts beside the image
 * worker (src/node/segment-worker.ts), and stops with it, that decodes the next image while the
 * engine runs the current one. It holds no model and reads no file: it gets the file's bytes
 * (already checked against the engine's budget) and gives back the network input. Masks are made
 * on the main thread (src/node/segment-mask.ts), so a mask never waits for the next decode.
 *
 * Messages in (from the image worker): { id, file, bytes, inChannels }. Out: { type: 'decoded',
 * id, input, width, height } or { type: 'failed', id, error }.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { imageToTensor } from '../input.js';
import { decodeImage } from './png.js';
import { serializeError, type DecodeRequest, type DecoderWorkerData, type DecodeReply } from './segment-messages.js';

function decode(port: MessagePort, m: DecodeRequest): void {
  let reply: DecodeReply;
  try {
    const image = decodeImage(m.bytes);
    const input = imageToTensor(image, m.inChannels);
    reply = { type: 'decoded', id: m.id, input, width: image.width, height: image.height };
  } catch (e) {
    reply = { type: 'failed', id: m.id, error: serializeError(e, m.file) };
  }
  port.postMessage(reply, reply.type === 'decoded' ? [reply.input.buffer as ArrayBuffer] : []); // imageToTensor's own buffer
}

if (parentPort) {
  const { requests } = workerData as DecoderWorkerData;
  requests.on('message', (m: DecodeRequest) => decode(requests, m));
}
