#!/bin/sh
# with-ca-certs.sh COMMAND...: run COMMAND (a `pip install`) trusting extra CA certificates when
# the build secret `extra_ca_certs` is given (a PEM file: a TLS-intercepting proxy's CA, say).
# The Dockerfiles bind-mount this script and the secret into a RUN, never COPY them, so neither
# is in any layer. The bundle (the certificates pip trusts anyway, then the extra ones) is made
# in a fresh folder under /tmp, named by PIP_CERT, SSL_CERT_FILE and REQUESTS_CA_BUNDLE for
# COMMAND alone, and removed before the RUN ends, whether COMMAND succeeds or not.
# Without the secret (or with an empty one), COMMAND runs as it is.
set -eu
secret="${EXTRA_CA_CERTS_SECRET:-/run/secrets/extra_ca_certs}"
if [ ! -s "$secret" ]; then
    exec "$@"
fi
folder="$(mktemp -d)"
trap 'rm -rf "$folder"' EXIT
base="$(python3 -c 'from pip._vendor import certifi; print(certifi.where())')"
cat "$base" "$secret" > "$folder/ca-bundle.pem"
echo "with-ca-certs: trusting $(grep -c 'BEGIN CERTIFICATE' "$secret") extra CA certificate(s) for this step" >&2
status=0
PIP_CERT="$folder/ca-bundle.pem" SSL_CERT_FILE="$folder/ca-bundle.pem" \
    REQUESTS_CA_BUNDLE="$folder/ca-bundle.pem" "$@" || status=$?
exit "$status"
