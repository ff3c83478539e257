# Lifeline API and workers: one image, the command picks the process.
FROM oven/bun:1.2-debian AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN bun install --production --frozen-lockfile || bun install --production

FROM oven/bun:1.2-debian
WORKDIR /app
ENV NODE_ENV=production LIFELINE_DATA_DIR=/data PORT=8080
COPY --from=deps /app/node_modules ./node_modules
COPY . .
RUN mkdir -p /data && chown bun:bun /data
USER bun
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD bun -e "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["bun", "src/api/server.ts"]
