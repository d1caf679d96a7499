# GPU image of the training service. Build: docker build -t trainer .
# Run:   docker run --gpus all -v $PWD/runs:/app/runs -v $PWD/mlflow.db:/app/mlflow.db trainer train trainer=gpu
# The CUDA build of torch comes from PyTorch's CUDA 12.8 wheel index; the rest from PyPI.
# (Not built in CI: the CI machines have no Docker engine.)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN pip install --index-url https://download.pytorch.org/whl/cu128 torch==2.13.0 \
    && mkdir -p src/trainer && touch src/trainer/__init__.py \
    && pip install -e . && rm -rf src

COPY conf ./conf
COPY src ./src
RUN pip install --no-deps -e .

ENV TRAINER_CONF_DIR=/app/conf
ENTRYPOINT ["trainer"]
CMD ["--help"]
