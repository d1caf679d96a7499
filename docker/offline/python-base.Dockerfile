# A stand-in for python:3.11-slim-bookworm where no registry is reachable (see docs/deploy.md,
# "Without a registry"): Debian bookworm's Python 3.11 on a base made locally with debootstrap.
# `python` and `pip` are those of a virtual environment first on PATH, as `python` and `pip`
# are in the official image; nothing else of the project is in here.
#   docker/offline/make-bases.sh builds it as trainer-base/python:3.11-bookworm.
ARG BOOKWORM_IMAGE=trainer-base/bookworm:minbase
FROM ${BOOKWORM_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    PATH=/opt/python/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        "ca-certificates=20*" \
        "python3=3.11.*" \
        "python3-venv=3.11.*" \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/python
CMD ["python3"]
