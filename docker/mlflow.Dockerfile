# The team's MLflow tracking server (docker-compose.yml's `mlflow` service): the same MLflow
# as pyproject.toml pins, with psycopg for the PostgreSQL backend store. No torch.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
RUN pip install --no-cache-dir "mlflow>=3.17.0,<3.18" "psycopg[binary]>=3.1" \
    && useradd --create-home --uid 1000 --shell /usr/sbin/nologin mlflow \
    && mkdir -p /mlflow/artifacts \
    && chown -R mlflow:mlflow /mlflow
USER 1000:1000
WORKDIR /mlflow
EXPOSE 5000
ENTRYPOINT ["mlflow"]
CMD ["server", "--help"]
