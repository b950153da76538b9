/**
 * The image codec behind `freqreg segment`: a worker started by the image worker
 * (src/node/segment-worker.ts) that decodes the next image and encodes the last mask while the
 * engine computes, so that in a batch only the engine's time is on the critical path. It holds no
 * model and reads no file: it gets the file's bytes (already checked against the engine's budget)
 * and gives back the network input; it gets the logits and sends the mask PNG straight to the
 * main thread (`results`), so a finished mask never waits for the engine's next image.
 *
 * Messages in (from the image worker): { type: 'decode', id, file, bytes, inChannels } and
 * { type: 'encode', id, file, logits, classes, width, height }. Out: to the image worker
 * { type: 'decoded', id, input, width, height } or { type: 'failed', id, error }; to `results`
 * { type: 'done', id, mask, width, height } or { type: 'failed', id, error }.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { argmaxClasses } from '../engines/reference.js';
import { imageToTensor } from '../input.js';
import { maskToGrey } from '../metrics.js';
import { decodeImage, encodeGreyPng } from './png.js';
import { serializeError, type CodecRequest, type CodecWorkerData, type DecodeReply, type MaskReply } from './segment-messages.js';

function decode(port: MessagePort | NonNullable<typeof parentPort>, m: Extract<CodecRequest, { type: 'decode' }>): void {
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

function encode(results: MessagePort, m: Extract<CodecRequest, { type: 'encode' }>): void {
  let reply: MaskReply;
  try {
    const classes = argmaxClasses({ c: m.classes, h: m.height, w: m.width, data: m.logits });
    const mask = encodeGreyPng(maskToGrey(classes, m.classes), m.width, m.height);
    reply = { type: 'done', id: m.id, mask, width: m.width, height: m.height };
  } catch (e) {
    reply = { type: 'failed', id: m.id, error: serializeError(e, m.file) };
  }
  results.postMessage(reply);
}

if (parentPort) {
  const port = parentPort;
  const { results } = workerData as CodecWorkerData;
  port.on('message', (m: CodecRequest) => (m.type === 'decode' ? decode(port, m) : encode(results, m)));
}
