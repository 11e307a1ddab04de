"""TLS for a local cluster's client listener (``--tls``): a private CA and one node certificate.

Made with ``cryptography`` (no keytool run, no Java keystore): Kafka reads PEM key stores
(``ssl.keystore.type=PEM``, KIP-651) and clients verify against ``ca.crt``. The CA's private key is
never written: the node certificate is signed once and the key discarded, so nothing on disk can
sign another certificate this CA vouches for. A certificate lives ten years on a development
machine; remove ``<data-dir>/kafka/tls/`` to make new ones.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bus.kafka.keyring import write_private

_VALID = dt.timedelta(days=3650)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # clients' trust anchor (BUS_SSL_CAFILE)
    node: Path  # the nodes' private key and certificate chain, PEM, 0600

    @classmethod
    def under(cls, folder: Path) -> TlsFiles:
        return cls(folder / "ca.crt", folder / "node.pem")


def node_tls(folder: Path, host: str) -> TlsFiles:
    """The cluster's CA certificate and node key store, made on first use and kept."""
    files = TlsFiles.under(folder)
    if files.ca.exists() and files.node.exists():
        return files
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agency-bus local CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    node_key = ec.generate_private_key(ec.SECP256R1())
    node = (
        _builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agency-bus kafka node")]),
            ca_name,
            node_key.public_key(),
            now,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = node_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    chain = node.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    write_private(files.node, (key_pem + chain).decode())
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALID)
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
