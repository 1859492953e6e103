# syntax=docker/dockerfile:1
#
# Latch gateway image.
#
#   docker build -t latch .
#   docker run --rm -v latch-data:/var/lib/latch -v "$PWD/latch.yaml:/etc/latch/latch.yaml:ro" \
#     -p 6432:6432 -p 8080:8080 latch
#
# Three stages: `build` compiles TypeScript with the dev dependencies, `deps` installs only the runtime
# dependencies (compiling better-sqlite3 against this glibc), and the final stage copies both onto the slim
# image, which has no compiler, no npm cache and no dev packages. See docs/deployment.md.

ARG NODE_IMAGE=node:20-bookworm
ARG RUNTIME_IMAGE=node:20-bookworm-slim
# The allowScripts field in package.json (which install scripts may run: better-sqlite3 yes, ssh2's optional
# native crypto no) is read by npm 11; the npm 10 bundled with Node 20 ignores it and runs every script.
ARG NPM_VERSION=11.19.1

# ---- build: compile dist/ ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
ARG NPM_VERSION
RUN npm install -g "npm@${NPM_VERSION}"
WORKDIR /build
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# `npm ci` runs the package's `prepare` script, which is the TypeScript build (tsc -p tsconfig.build.json).
RUN npm ci --no-audit --no-fund && test -f dist/src/cli/main.js

# ---- deps: runtime node_modules only ------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
ARG NPM_VERSION
RUN npm install -g "npm@${NPM_VERSION}"
WORKDIR /app
COPY package.json package-lock.json ./
# `prepare` (tsc) cannot run without the dev dependencies, and dist/ comes from the build stage anyway, so it
# is dropped from this stage's copy of package.json. Dependency install scripts still run under allowScripts:
# better-sqlite3 compiles with the python3/make/g++ that the full node image ships. The last line proves the
# native module loads, so a broken build fails here rather than at the gateway's first start.
RUN npm pkg delete scripts.prepare \
  && npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force \
  && node -e "const D = require('better-sqlite3'); new D(':memory:').prepare('select 1').get()"

# ---- runtime ------------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
ENV NODE_ENV=production
# A fixed, non-zero uid/gid so volume ownership and Kubernetes securityContext (runAsUser/fsGroup) can name it.
RUN groupadd --system --gid 10001 latch \
  && useradd --system --uid 10001 --gid latch --home-dir /var/lib/latch --shell /usr/sbin/nologin latch \
  && mkdir -p /etc/latch/policies /var/lib/latch \
  && chown latch:latch /var/lib/latch \
  && chmod 0700 /var/lib/latch
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/package.json ./package.json
COPY --from=build /build/dist ./dist
# `latch` on PATH for `docker exec ... latch audit verify` and friends.
RUN chmod 0755 dist/src/cli/main.js && ln -s /app/dist/src/cli/main.js /usr/local/bin/latch

# The SQLite store, audit journal, generated TLS certificate and SSH host key. Exactly one gateway per volume.
VOLUME ["/var/lib/latch"]
# 6432 PostgreSQL clients, 2222 SSH clients (only when listen.ssh is set), 8080 admin API/console/healthz/metrics.
EXPOSE 6432 2222 8080

USER latch:latch
# The probe runs inside the container, so it reaches the admin listener on loopback whether it is bound to
# 127.0.0.1 or 0.0.0.0. Change LATCH_HEALTHCHECK_URL if listen.admin uses another port. /healthz answers 503
# when the store cannot be written, which is exactly when the gateway must not take traffic.
ENV LATCH_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.LATCH_HEALTHCHECK_URL, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node runs as PID 1 and handles SIGTERM (clean shutdown) and SIGHUP (policy reload) itself.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["serve", "--config", "/etc/latch/latch.yaml"]
