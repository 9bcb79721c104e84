"""The throwaway PKI: file modes, SANs, and the admin identity the apiserver will see."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from sandbox.backends.local.pki import generate_pki, write_private_file


def test_every_file_is_private(tmp_path: Path) -> None:
    paths = generate_pki(tmp_path / "pki")
    for path in vars(paths).values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "pki").stat().st_mode) == 0o700
    assert sorted(p.name for p in (tmp_path / "pki").iterdir()) == sorted(
        p.name for p in vars(paths).values()
    )


def test_serving_cert_is_for_loopback_and_signed_by_ca(tmp_path: Path) -> None:
    paths = generate_pki(tmp_path)
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    serving = x509.load_pem_x509_certificate(paths.serving_cert.read_bytes())
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    serving.verify_directly_issued_by(ca)


def test_admin_is_system_masters(tmp_path: Path) -> None:
    paths = generate_pki(tmp_path)
    admin = x509.load_pem_x509_certificate(paths.admin_cert.read_bytes())
    orgs = admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [o.value for o in orgs] == ["system:masters"]


def test_write_private_file_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "k"
    target.write_text("old")
    target.chmod(0o644)
    write_private_file(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["k"]
