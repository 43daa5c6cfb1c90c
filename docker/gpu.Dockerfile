# syntax=docker/dockerfile:1
# The GPU worker image: CUDA runtime base, Python 3.11, torch + diffusers (the `render` extra).
# Build from the repository root: docker build -f docker/gpu.Dockerfile -t reelstream/reelstream-gpu .
# Weights are never baked in: they come from a read-only volume (REELSTREAM_MODEL_DIR).
# Pinned by digest (the multi-platform index); a release moves tag and digest together: docs/supply-chain.md.
# torch's CUDA libraries come from the lock (nvidia-* wheels from PyPI, hashed), not from this base.
ARG CUDA_IMAGE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04@sha256:2fcc4280646484290cc50dce5e65f388dd04352b07cbe89a635703bd1f9aedb6

FROM ${CUDA_IMAGE} AS python
ENV DEBIAN_FRONTEND=noninteractive
# Ubuntu 22.04 ships Python 3.10; 3.11 comes from the deadsnakes PPA (the PPA tooling is removed again)
RUN apt-get update \
    && apt-get install -y --no-install-recommends software-properties-common gpg-agent \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    && apt-get purge -y software-properties-common gpg-agent \
    && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*

# no compilers: the lock's wheels cover linux/amd64 (--only-binary below), and the project is pure Python
FROM python AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3.11 -m venv /opt/venv
WORKDIR /src
# the dependencies from the hashed lock (the base, the render extra, the SDK's cli extra), in a layer of their
# own; on linux/amd64 every pin has a wheel, so nothing is built from source
COPY requirements/gpu.txt requirements/
RUN /opt/venv/bin/python -m pip install --require-hashes --no-deps --only-binary :all: -r requirements/gpu.txt
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
# the project and the SDK alone (their dependencies are all in the lock; the build backend too)
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation . ./clients/python \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -m compileall -q /opt/venv

FROM python AS runtime
RUN groupadd --gid 10001 reelstream \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin reelstream
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    HF_HOME=/tmp/hf \
    HF_HUB_OFFLINE=1
WORKDIR /tmp
USER 10001:10001
# the chart passes --slot from the StatefulSet ordinal
ENTRYPOINT ["reelstream-worker"]
