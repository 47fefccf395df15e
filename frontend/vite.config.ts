// Vite builds the dashboard into dist/, which `tend` embeds (see host/build.rs). `npm run dev` serves it
// with hot reload against a running daemon: TEND_URL (default http://127.0.0.1:9900) and TEND_TOKEN (the
// daemon's token) are read here, and the dev proxy adds the bearer token, so nothing secret reaches the
// browser. The production dashboard never sees the token: it signs in with a cookie session.
import { defineConfig } from "vitest/config";

const target = process.env.TEND_URL ?? "http://127.0.0.1:9900";
const token = process.env.TEND_TOKEN ?? "";

export default defineConfig({
  build: {
    target: "es2022",
    sourcemap: false,
    // Hashed names under assets/ are served `immutable`; index.html is `no-cache`.
    assetsDir: "assets",
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      "/api": {
        target,
        changeOrigin: true,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
