# Atom: one replica of the server (see README "Deploy").
# Data lives in /data (mount a volume) unless DATABASE_URL and LANCEDB_URI point elsewhere.

# --- stage 1: production dependencies only (native modules come prebuilt for linux/glibc) ---
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- stage 2: the compiled build (dist/): no TypeScript compiler in the running server ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
RUN npm run build

# --- stage 3: the runtime image, non-root ---
FROM node:20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production ATOM_DATA_DIR=/data PORT=3000 HOST=0.0.0.0
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json package-lock.json ./
COPY --chown=node:node bin ./bin
COPY --chown=node:node src ./src
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node manifests ./manifests
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "bin/atom.js", "serve"]
