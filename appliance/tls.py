"""TLS certificates for the nginx in front of the sites: a self-signed pair per site made at the first
start when the city gives none (`madoguchi tls self-signed`, run by the Docker entry point), and how
long the certificates in use still hold (`madoguchi check`)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from db.keys import write_private_file

SITES = ("public", "admin")
VALID = datetime.timedelta(days=825)  # the longest browsers accept


def self_signed(folder: Path, hosts: list[str], now: datetime.datetime) -> list[str]:
    """SITE.crt and SITE.key for each site that has none (a city's own certificates are never replaced);
    returns the files made."""
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    made = []
    for site in SITES:
        crt, key_path = folder / f"{site}.crt", folder / f"{site}.key"
        if crt.exists() or key_path.exists():
            continue
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"madoguchi {site} (self-signed)")])
        certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                       .public_key(key.public_key()).serial_number(x509.random_serial_number())
                       .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID)
                       .add_extension(x509.SubjectAlternativeName(names), critical=False)
                       .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                       .sign(key, hashes.SHA256()))
        write_private_file(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
        crt.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        made += [crt.name, key_path.name]
    return made


def expiries(folder: Path) -> dict[str, datetime.datetime]:
    """When each SITE.crt in the folder stops being valid."""
    found = {}
    for site in SITES:
        crt = folder / f"{site}.crt"
        if crt.is_file():
            found[site] = x509.load_pem_x509_certificate(crt.read_bytes()).not_valid_after_utc
    return found
