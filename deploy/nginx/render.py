"""Render deploy/nginx/exchange.conf.in for one installation.

    python deploy/nginx/render.py --workers 127.0.0.1:8001,127.0.0.1:8002 \
        --server-name exchange.example.org --static-root /srv/exchange/static \
        --tls-certificate /etc/ssl/exchange/fullchain.pem \
        --tls-key /etc/ssl/exchange/privkey.pem > /etc/nginx/sites-available/exchange

Without --tls-* it listens in plain HTTP on --listen (the local cluster: loopback only).
The body limit follows EXCHANGE_MAX_UPLOAD_MB (default 100) as the workers' does.
Standard library only: it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).with_name("exchange.conf.in")
# Room beyond the attachment: its meta and the form's framing (exchange/server.py).
OVERHEAD_MB = 1


class NginxTemplate(Template):
    """@{NAME} fields: nginx's own variables are written $name."""

    delimiter = "@"


def _listen(args: argparse.Namespace) -> str:
    if args.tls_certificate and args.tls_key:
        return "\n".join(
            [
                "    listen 443 ssl;",
                "    listen [::]:443 ssl;",
                "    http2 on;" if args.http2 else "",
                f"    ssl_certificate {args.tls_certificate};",
                f"    ssl_certificate_key {args.tls_key};",
                "    ssl_protocols TLSv1.2 TLSv1.3;",
                "    ssl_prefer_server_ciphers off;",
                "    ssl_session_timeout 1d;",
                "    ssl_session_cache shared:exchange_tls:10m;",
            ]
        )
    if args.tls_certificate or args.tls_key:
        sys.exit("error: --tls-certificate and --tls-key go together")
    return f"    listen {args.listen};"


def render(args: argparse.Namespace) -> str:
    workers = [worker.strip() for worker in args.workers.split(",") if worker.strip()]
    if not workers:
        sys.exit("error: --workers names at least one host:port")
    upload_mb = int(os.environ.get("EXCHANGE_MAX_UPLOAD_MB") or 100)
    return NginxTemplate(TEMPLATE.read_text()).substitute(
        UPSTREAM_SERVERS="\n".join(
            f"    server {worker} max_fails=1 fail_timeout=5s;" for worker in workers
        ),
        LISTEN=_listen(args),
        SERVER_NAME=args.server_name,
        MAX_BODY=f"{upload_mb + OVERHEAD_MB}m",
        STATIC_ROOT=str(Path(args.static_root).resolve()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", required=True, help="host:port of each server process")
    parser.add_argument("--server-name", default="_")
    parser.add_argument("--static-root", required=True, help="where collectstatic put files")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="plain HTTP only")
    parser.add_argument("--tls-certificate")
    parser.add_argument("--tls-key")
    parser.add_argument("--http2", action="store_true", help="nginx >= 1.25.1")
    sys.stdout.write(render(parser.parse_args()))


if __name__ == "__main__":
    main()
