# The importer's container: console, HTTP API and engine in one process (services/server/main.ts).
# PostgreSQL and KurrentDB (EventStoreDB's successor) run beside it, see docker-compose.yml.
# Node 26 is the current LTS line; the code also runs on Node 20 (our development machines).

FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The console is built here (Vite, a dev dependency), then dev dependencies are dropped.
RUN npm run build && npm prune --omit=dev

FROM node:26-slim
ENV NODE_ENV=production \
    CAREOS_DATA_DIR=/data \
    PORT=3000
WORKDIR /app
COPY --from=build --chown=node:node /app /app
# Uploaded files (personal data) live in the data directory, readable by the server's user only.
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
USER node
EXPOSE 3000
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/api/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node directly, not npm: SIGTERM from `docker stop` reaches the server, which stops cleanly.
CMD ["node", "bin/careos-server.js"]
