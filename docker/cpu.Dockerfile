# syntax=docker/dockerfile:1
# The slim CPU image of ingest, admission, scheduler and notifier (one image, one console entry point each).
# Build from the repository root: docker build -f docker/cpu.Dockerfile -t reelstream/reelstream-cpu .
# Base images pinned by digest (the multi-platform index); a release moves tag and digest together:
# docs/supply-chain.md
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1
ARG NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

# the web console and the API reference page (console/dist), served by ingest; Node stays in this stage
FROM ${NODE_IMAGE} AS console
WORKDIR /src
# the TypeScript client package first: the console depends on it (file:../clients/typescript); the API
# types are committed (clients/typescript/src/schema.ts): the builds type-check against them, no Python
COPY clients/typescript/package.json clients/typescript/package-lock.json clients/typescript/
RUN cd clients/typescript && npm ci --no-audit --no-fund
COPY clients/typescript/ clients/typescript/
RUN cd clients/typescript && npm run build
COPY console/package.json console/package-lock.json console/
RUN cd console && npm ci --no-audit --no-fund
COPY console/ console/
RUN cd console && npm run build

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# compilers only for sdists without a wheel (faust-streaming on arm64); this stage is thrown away
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /src
# the dependencies from the hashed lock (the base and the SDK's cli extra), in a layer of their own
COPY requirements/cpu.txt requirements/
RUN /opt/venv/bin/python -m pip install --require-hashes --no-deps -r requirements/cpu.txt
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY reelstream/ reelstream/
COPY ingest/ ingest/
COPY streams/ streams/
COPY gpu_consumers/ gpu_consumers/
# the `reelstream` command: the SDK's CLI (keys, webhooks, ...) with the tools' commands (dlq, topics, ...)
# added by entry points: docs/architecture.md
COPY devstack/ devstack/
COPY clients/python/ clients/python/
# bytecode compiled here: the runtime root filesystem is read-only
# the project and the SDK alone (their dependencies are all in the lock; the build backend too)
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation . ./clients/python \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -m compileall -q /opt/venv

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --gid 10001 reelstream \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin reelstream
COPY --from=build /opt/venv /opt/venv
COPY --from=console /src/console/dist /opt/console
ENV PATH=/opt/venv/bin:$PATH \
    REELSTREAM_CONSOLE_DIR=/opt/console \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
CMD ["reelstream-ingest"]
