#!/usr/bin/env bash
# Base images for a machine that reaches a Debian mirror but no container registry (see
# docs/deploy.md, "Without a registry"). Needs root, debootstrap and a Docker engine:
#   sudo docker/offline/make-bases.sh [MIRROR]      # default: the first URI apt is configured with
# Makes, in the engine DOCKER_HOST names:
#   trainer-base/bookworm:minbase       debootstrap --variant=minbase bookworm, imported
#   trainer-base/python:3.11-bookworm   PYTHON_IMAGE for Dockerfile and docker/mlflow.Dockerfile
#   trainer-base/postgres:15-bookworm   POSTGRES_IMAGE for docker/postgres.Dockerfile
# The bases hold no certificate of yours: pass extra CA certificates to the project's builds as
# the build secret `extra_ca_certs` (docs/deploy.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mirror="${1:-}"
if [ -z "$mirror" ]; then
    # The first Debian archive (not the security one) of apt's own sources.
    mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -oE '^(URIs:|deb)[^#]*https?://[^ ]+' | grep -oE 'https?://[^ ]+' \
        | grep -v security | head -n 1 || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.log" 2>&1 || { tail -n 20 "$root.log"; exit 1; }
rm -f "$root.log"
tar -C "$root" -c . | docker import - trainer-base/bookworm:minbase
docker build -t trainer-base/python:3.11-bookworm -f "$here/python-base.Dockerfile" "$here"
docker build -t trainer-base/postgres:15-bookworm -f "$here/postgres-base.Dockerfile" "$here"
docker image ls --filter "reference=trainer-base/*"
