# Atom: one replica of the server (see README "Deploy").
# Data lives in /data (mount a volume) unless DATABASE_URL and LANCEDB_URI point elsewhere.

# --- stage 1: production dependencies only (native modules come prebuilt for linux/glibc) ---
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- stage 2: the runtime image, non-root ---
FROM node:20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production ATOM_DATA_DIR=/data PORT=3000 HOST=0.0.0.0
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json package-lock.json ./
COPY --chown=node:node bin ./bin
COPY --chown=node:node src ./src
COPY --chown=node:node manifests ./manifests
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "bin/atom.js", "serve"]
