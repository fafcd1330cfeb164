/// <reference types="vite/client" />
/// <reference types="vite-plugin-pwa/vanillajs" />

interface ImportMetaEnv {
  /** Where events go (a URL, or a URL prefix): the page sends there, the worker allows it. */
  readonly VITE_ANALYTICS_URL: string;
  readonly VITE_APP_VERSION?: string;
}
