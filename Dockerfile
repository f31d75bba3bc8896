# syntax=docker/dockerfile:1
# flowguard worker image: compiled JavaScript and a pre-built workflow bundle, running as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build && npx tsx scripts/bundle-workflows.ts dist/workflow-bundle.js && npm prune --omit=dev

FROM node:20-bookworm-slim
# Two malloc arenas: the Temporal core's native threads otherwise fragment memory across many (see README).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    FLOWGUARD_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
CMD ["node", "dist/worker.js"]
