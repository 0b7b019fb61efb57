# The importer's container: the console and API server (`npm start`). PostgreSQL and EventStoreDB
# run beside it, see docker-compose.yml. TypeScript runs through tsx, a runtime dependency.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# Whatever needs building (the console, once it has a build script) is built with the dev
# dependencies; they are dropped before the runtime image.
RUN npm run build --if-present && npm prune --omit=dev

FROM node:20-slim
ENV NODE_ENV=production \
    CAREOS_DATA_DIR=/data \
    PORT=3000
WORKDIR /app
COPY --from=build --chown=node:node /app /app
# Uploaded files live in the data directory; a fresh named volume takes over this ownership.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
VOLUME ["/data"]
CMD ["npm", "start"]
