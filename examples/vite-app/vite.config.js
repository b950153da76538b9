// `npx vite build` → dist/. Module workers (the segmenter's and freqreg's kernel workers); the
// COOP/COEP headers that make the page cross-origin isolated, so it gets threads, in `vite` and
// `vite preview` (serve dist/ elsewhere with the same two headers).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default {
  worker: { format: 'es' },
  build: { target: 'es2022' },
  server: { headers: isolation },
  preview: { headers: isolation },
};
