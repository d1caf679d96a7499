"""A throwaway CA certificate for the tests of the extra-CA build secret."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest


def self_signed_ca(path: Path, name: str = "trainer test CA") -> Path:
    """Write a fresh self-signed CA certificate (PEM) to ``path``; skips without ``cryptography``."""
    x509 = pytest.importorskip("cryptography.x509", reason="cryptography writes the test certificate")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path
