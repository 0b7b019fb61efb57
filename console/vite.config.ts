import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [sveltekit()],
  // The console imports the shared contract from ../schemas.
  server: { fs: { allow: ['..'] } },
});
