// Vite build of the dashboard: dashboard/ → dashboard/dist, served by the server at `/` (server/plugins/dashboard.ts).
// `npm run dashboard:dev` proxies the API to a server on :8003 so the page can be developed with hot reload.
import { defineConfig } from 'vite'

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // lightweight-charts is most of the bundle; one chunk keeps the CSP and the served file list simple.
    chunkSizeWarningLimit: 400
  },
  server: {
    proxy: {
      '/auth': 'http://127.0.0.1:8003',
      '/me': 'http://127.0.0.1:8003',
      '/sessions': 'http://127.0.0.1:8003',
      '/market-data': 'http://127.0.0.1:8003',
      '/ws': { target: 'ws://127.0.0.1:8003', ws: true }
    }
  }
})
