// vite.config.ts
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

export default defineConfig({
  plugins: [
    VitePWA({
      strategies: 'injectManifest', // your worker (src/sw.ts), with the precache list put in
      srcDir: 'src',
      filename: 'sw.ts',
      registerType: 'prompt', // the default: a new version waits for the page's updateSW(true)
      injectRegister: false, // src/main.ts registers it, with virtual:pwa-register
      manifest: false, // or your web app manifest
      injectManifest: { rollupFormat: 'iife' }, // one classic script
    }),
  ],
});
