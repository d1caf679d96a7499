# The team's MLflow tracking server (docker-compose.yml's `mlflow` service): the same MLflow
# as pyproject.toml pins, with psycopg for the PostgreSQL backend store. No torch.
# Build arguments and the `extra_ca_certs` build secret as for ../Dockerfile (docs/deploy.md).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
RUN --mount=type=secret,id=extra_ca_certs \
    --mount=type=bind,source=docker/with-ca-certs.sh,target=/usr/local/bin/with-ca-certs.sh \
    sh /usr/local/bin/with-ca-certs.sh pip install --no-cache-dir "mlflow>=3.17.0,<3.18" "psycopg[binary]>=3.1" \
    && useradd --create-home --uid 1000 --shell /usr/sbin/nologin mlflow \
    && mkdir -p /mlflow/artifacts \
    && chown -R mlflow:mlflow /mlflow
USER 1000:1000
WORKDIR /mlflow
EXPOSE 5000
ENTRYPOINT ["mlflow"]
CMD ["server", "--help"]
