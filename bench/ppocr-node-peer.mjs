// The Node peer of bench/ocr-ppocr.sh: @gutenye/ocr-node (PaddleOCR's
// PP-OCR on onnxruntime-node) reading images one after another in one
// process, with the model files Lector uses. It writes each image's lines
// (one per line, in the peer's order) to OUT/<name>.txt.
//
//   node bench/ppocr-node-peer.mjs PEER_DIR MODEL_DIR THREADS OUT FILE…
//
// PEER_DIR holds node_modules/@gutenye/ocr-node (installed by the bench
// script); MODEL_DIR is Lector's v4 directory (det.onnx, rec.onnx,
// keys.txt). THREADS is ONNX Runtime's intra-op thread count per session
// (the peer runs one image at a time, detection then recognition).
import path from 'node:path'
import fs from 'node:fs/promises'
import { pathToFileURL } from 'node:url'

const [peerDir, modelDir, threads, out, ...files] = process.argv.slice(2)
const mod = (p) => import(pathToFileURL(path.join(peerDir, 'node_modules', p)).href)
const { default: Ocr } = await mod('@gutenye/ocr-node/build/index.js')
const { default: sharp } = await mod('sharp/lib/index.js')

const ocr = await Ocr.create({
  models: {
    detectionPath: path.join(modelDir, 'det.onnx'),
    recognitionPath: path.join(modelDir, 'rec.onnx'),
    dictionaryPath: path.join(modelDir, 'keys.txt'),
  },
  onnxOptions: {
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  },
})
await fs.mkdir(out, { recursive: true })
for (const file of files) {
  // The peer assumes four channels (sharp's ensureAlpha on a grey image
  // gives two), so every image is made sRGB first, as a user would.
  const rgb = await sharp(file).toColourspace('srgb').png({ compressionLevel: 0 }).toBuffer()
  const lines = await ocr.detect(rgb)
  const name = path.basename(file).replace(/\.[^.]+$/, '')
  await fs.writeFile(path.join(out, `${name}.txt`), lines.map((l) => l.text).join('\n') + '\n')
}
