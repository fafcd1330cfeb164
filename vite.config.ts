import { defineConfig } from 'vitest/config';

// The library build: two ES entries, page (`.`) and worker (`./worker`), with their
// dependencies (idb, workbox-window) left for the user's bundler. The ready-made
// worker (`dist/sw.js`, everything inlined) is built by scripts/build.mjs.
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    sourcemap: true,
    minify: false,
    target: 'es2022',
    lib: {
      entry: { index: 'src/index.ts', worker: 'worker/index.ts' },
      formats: ['es'],
    },
    rollupOptions: {
      external: ['idb', 'workbox-window'],
      output: { chunkFileNames: 'chunks/[name]-[hash].js' },
    },
  },
  test: {
    include: ['src/**/*.test.ts', 'worker/**/*.test.ts'],
    environment: 'node',
    setupFiles: ['fake-indexeddb/auto'],
  },
});
