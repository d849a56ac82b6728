"""deploy/ as an operator uses it: the nginx site renders and nginx accepts it (plain,
as the local cluster runs it, and with TLS, as production does), and the environment
template passes Django's deployment checks."""

from __future__ import annotations

import datetime
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[1]
RENDER = ROOT / "deploy" / "nginx" / "render.py"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "exchange.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def nginx_accepts(site: str, directory: Path) -> subprocess.CompletedProcess[str]:
    (directory / "site.conf").write_text(site)
    (directory / "nginx.conf").write_text(
        f"pid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'};\n"
        "events {}\n"
        f"http {{ include /etc/nginx/mime.types; include {directory / 'site.conf'}; }}\n"
    )
    return subprocess.run(
        [NGINX, "-t", "-p", str(directory), "-c", str(directory / "nginx.conf")],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("tls", [False, True], ids=["cluster", "production-tls"])
def test_the_nginx_site_renders_and_nginx_accepts_it(tmp_path: Path, tls: bool) -> None:
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: `make nginx` (make test installs it)")
    arguments = ["--workers", "127.0.0.1:8001,127.0.0.1:8002", "--static-root", str(tmp_path)]
    if tls:
        cert, key = self_signed(tmp_path)
        arguments += ["--server-name", "exchange.example.org", "--tls-certificate", str(cert),
                      "--tls-key", str(key)]  # fmt: skip
    site = subprocess.run(
        [sys.executable, str(RENDER), *arguments],
        capture_output=True, text=True, check=True, env={"EXCHANGE_MAX_UPLOAD_MB": "250"},
    ).stdout  # fmt: skip
    assert "client_max_body_size 251m;" in site
    assert ("listen 443 ssl;" in site) == tls
    checked = nginx_accepts(site, tmp_path)
    assert checked.returncode == 0, checked.stderr


def test_the_renderer_refuses_half_a_tls_setup(tmp_path: Path) -> None:
    refused = subprocess.run(
        [sys.executable, str(RENDER), "--workers", "127.0.0.1:8001", "--static-root",
         str(tmp_path), "--tls-certificate", "/etc/ssl/cert.pem"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "--tls-certificate and --tls-key go together" in refused.stderr


def test_the_environment_template_passes_the_deployment_checks() -> None:
    environment = {"PATH": "/usr/bin:/bin"}
    for line in (ROOT / "deploy" / "exchange.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            environment[name] = value
    environment["EXCHANGE_SECRET_KEY"] = secrets.token_urlsafe(50)
    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
