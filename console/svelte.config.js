// The console: SvelteKit (Svelte 5), built with adapter-node into console/build and served by
// the careos server (services/server/main.ts) behind its /api routes.
import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  compilerOptions: { runes: true },
  kit: {
    adapter: adapter({ out: 'build', precompress: false }),
    alias: { $schemas: '../schemas' },
    // Form actions refuse cross-site posts (SvelteKit compares Origin with the page's origin).
    csrf: { trustedOrigins: [] },
    // Inline scripts SvelteKit emits get hashes; nothing else runs.
    csp: {
      mode: 'auto',
      directives: {
        'default-src': ['self'],
        'script-src': ['self'],
        'style-src': ['self', 'unsafe-inline'],
        'img-src': ['self', 'data:'],
        'connect-src': ['self'],
        'font-src': ['self'],
        'object-src': ['none'],
        'base-uri': ['self'],
        'form-action': ['self'],
        'frame-ancestors': ['none'],
      },
    },
  },
};

export default config;
