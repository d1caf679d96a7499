# A stand-in for postgres:16-bookworm where no registry is reachable (see docs/deploy.md,
# "Without a registry"): Debian bookworm's PostgreSQL 15 behind an entrypoint that reads the
# same variables as the official image's (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA).
#   docker/offline/make-bases.sh builds it as trainer-base/postgres:15-bookworm.
ARG BOOKWORM_IMAGE=trainer-base/bookworm:minbase
FROM ${BOOKWORM_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
RUN apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-15=15.*" \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p "$PGDATA" /var/run/postgresql \
    && chown -R postgres:postgres "$PGDATA" /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
