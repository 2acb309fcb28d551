# Atom: one replica of the server. Data lives in /data (mount a volume) unless DATABASE_URL and
# LANCEDB_URI point elsewhere.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production ATOM_DATA_DIR=/data PORT=3000
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY manifests ./manifests
EXPOSE 3000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/atom.js", "serve"]
