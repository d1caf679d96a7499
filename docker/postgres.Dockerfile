# The team's PostgreSQL (docker-compose.yml's `postgres` service): the official image as it is,
# or any image with the same interface (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA,
# `pg_isready`), such as the one docker/offline/make-bases.sh makes where no registry is reachable:
#   docker compose build --build-arg POSTGRES_IMAGE=trainer-base/postgres:15-bookworm postgres
# Its entrypoint starts as root only to own the data folder, and runs the server as `postgres`.
ARG POSTGRES_IMAGE=postgres:16-bookworm
FROM ${POSTGRES_IMAGE}
LABEL org.opencontainers.image.title="trainer-postgres" \
      org.opencontainers.image.description="PostgreSQL for the trainer stack's MLflow and Optuna databases"
