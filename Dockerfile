# GPU image of the training service (see docs/deploy.md). Needs BuildKit (the default builder
# since Docker Engine 23; DOCKER_BUILDKIT=1 with Engine 20.10's own CLI):
#   docker build -t trainer .
#   docker run --rm --gpus all -v trainer-work:/workspace trainer train trainer=gpu
# torch==2.13.0 from PyPI is the CUDA 13.0 build on Linux x86_64 (it brings its own CUDA
# libraries, so the base needs none; the host needs an NVIDIA driver >= 580). For an older
# driver take another CUDA build of the same version from PyTorch's index, e.g.
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 -t trainer .
# Without a registry or behind a TLS-intercepting proxy (docs/deploy.md, "Without a registry"):
#   docker build --build-arg PYTHON_IMAGE=<a local Python 3.11 image> \
#       --secret id=extra_ca_certs,src=<PEM file of extra CA certificates> -t trainer .
# The certificates are trusted by pip for the RUN steps below only and are in no layer.
# The rest is installed from the project itself with its extra `postgres`, so every version
# is the one pyproject.toml pins. tests/deploy checks that this file and pyproject agree.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX_URL=https://pypi.org/simple
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src

# torch first and alone: the largest layer, rebuilt only when its pin or index changes.
RUN --mount=type=secret,id=extra_ca_certs \
    --mount=type=bind,source=docker/with-ca-certs.sh,target=/usr/local/bin/with-ca-certs.sh \
    sh /usr/local/bin/with-ca-certs.sh pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" torch==2.13.0

# The dependencies from pyproject.toml (against a stub package), so code edits do not reinstall them.
COPY pyproject.toml README.md ./
RUN --mount=type=secret,id=extra_ca_certs \
    --mount=type=bind,source=docker/with-ca-certs.sh,target=/usr/local/bin/with-ca-certs.sh \
    mkdir -p src/trainer && touch src/trainer/__init__.py \
    && sh /usr/local/bin/with-ca-certs.sh pip install --no-cache-dir "/src[postgres]" \
    && rm -rf src build

COPY src ./src
RUN --mount=type=secret,id=extra_ca_certs \
    --mount=type=bind,source=docker/with-ca-certs.sh,target=/usr/local/bin/with-ca-certs.sh \
    sh /usr/local/bin/with-ca-certs.sh pip install --no-cache-dir --no-deps --force-reinstall "/src[postgres]"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="trainer" \
      org.opencontainers.image.description="PyTorch training service: Hydra configs, MLflow tracking, Optuna sweeps"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    TRAINER_CONF_DIR=/opt/trainer/conf \
    MPLCONFIGDIR=/tmp/matplotlib
COPY --from=build /opt/venv /opt/venv
COPY conf /opt/trainer/conf
COPY docker/init_stack.py /opt/trainer/docker/init_stack.py

# A non-root user; runs/, mlflow.db (the default tracking store) and optuna.db are written to
# /workspace, the working directory, which is a volume.
RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin trainer \
    && mkdir -p /workspace \
    && chown 1000:1000 /workspace
USER 1000:1000
WORKDIR /workspace
VOLUME ["/workspace"]

ENTRYPOINT ["trainer"]
CMD ["--help"]
