"""`exchange-cli`: SPEC §6.1's commands on top of `Client`.

Output contract: what a script reads goes to stdout (with `--json`, one JSON object per
line); messages and progress bars go to stderr. Exit status: 0 success, 1 an error (server,
network, file, key, decryption, permissions), 2 a usage error. Every failure prints as
`error: <code>: <message>`, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from exchange_client import attachments, keys, sharing
from exchange_client.client import JSON, Client
from exchange_client.config import Config, Store
from exchange_client.errors import ExchangeError
from exchange_client.tail import Tail, format_message

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


# --- output ---------------------------------------------------------------------------


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def out_json(item: Any) -> None:
    out(json.dumps(item, ensure_ascii=False, separators=(",", ":")))


def note(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# --- arguments ------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors in the house's shape (and still exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        note(f"error: usage: {message}")
        raise SystemExit(EXIT_USAGE)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a UUID: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS,
        help="machine-readable output: one JSON object per line on stdout",
    )  # fmt: skip
    parser = _Parser(
        prog="exchange-cli",
        description="The Exchange client: channels, messages, encrypted attachments, documents.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help_text: str, handler: Callable[..., int]) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, parents=[common])
        sub.set_defaults(handler=handler)
        return sub

    login = command("login", "check an API token with the server and save it", cmd_login)
    login.add_argument("url", help="the server, e.g. https://exchange.example.org")
    source = login.add_mutually_exclusive_group(required=True)
    source.add_argument("--token-file", type=Path, help="a file holding the token")
    source.add_argument("--token-stdin", action="store_true", help="read the token from stdin")

    command("whoami", "the signed-in user and institution", cmd_whoami)
    command("channels", "the channel catalogue", cmd_channels)

    send = command("send", "post a message (safe to repeat with the same --client-id)", cmd_send)
    send.add_argument("channel")
    send.add_argument("text", help="the message, or - to read it from stdin")
    send.add_argument("--handling-code", help="TLP:CLEAR … TLP:RED (default: the server's)")
    send.add_argument("--attach", type=Path, action="append", default=[], metavar="FILE")
    send.add_argument("--client-id", type=_uuid, help="the idempotency key (default: a new one)")

    tail = command("tail", "print a channel's messages, then each new one", cmd_tail)
    tail.add_argument("channel")
    tail.add_argument("--after", type=_positive, metavar="ID", help="start after message ID")
    tail.add_argument("--once", action="store_true", help="exit after the backlog")

    command("keygen", "make and register an identity key; print its recovery code", cmd_keygen)
    commands.choices["keygen"].add_argument(
        "--force", action="store_true", help="replace the key this client holds"
    )
    key = commands.add_parser("key", help="back up or restore the identity key", parents=[common])
    key_commands = key.add_subparsers(dest="key_command", required=True, parser_class=_Parser)
    backup = key_commands.add_parser(
        "backup", help="back the key up under a new recovery code", parents=[common]
    )
    backup.set_defaults(handler=cmd_key_backup)
    restore = key_commands.add_parser(
        "restore", help="restore the key from the server's backup", parents=[common]
    )
    restore.add_argument("--recovery-code-file", type=Path, required=True, metavar="F")
    restore.set_defaults(handler=cmd_key_restore)

    share = command("share-pending", "deliver the key shares members wait for", cmd_share_pending)
    share.add_argument("channel", nargs="?")
    share.add_argument("--watch", action="store_true", help="keep delivering as members appear")

    upload = command("upload", "encrypt and upload a file; print its attachment id", cmd_upload)
    upload.add_argument("channel")
    upload.add_argument("file", type=Path)

    download = command("download", "download and decrypt an attachment", cmd_download)
    download.add_argument("id", type=_positive)
    download.add_argument("-o", "--output", type=Path, metavar="PATH")

    doc = commands.add_parser("doc", help="the lessons-learned library", parents=[common])
    doc_commands = doc.add_subparsers(dest="doc_command", required=True, parser_class=_Parser)
    add = doc_commands.add_parser(
        "add", help="add a document (an encrypted file)", parents=[common]
    )
    add.set_defaults(handler=cmd_doc_add)
    add.add_argument("channel")
    add.add_argument("file", type=Path)
    add.add_argument("--title", required=True)
    add.add_argument("--summary", default="")
    add.add_argument("--tag", action="append", default=[])
    add.add_argument("--language", help="ISO 639-1 (default: your preferred language)")
    add.add_argument("--handling-code")
    listing = doc_commands.add_parser(
        "list", help="documents of a channel, or all", parents=[common]
    )
    listing.set_defaults(handler=cmd_doc_list)
    listing.add_argument("channel", nargs="?")
    listing.add_argument("--q", help="full-text search")
    get = doc_commands.add_parser(
        "get", help="download a document's latest version", parents=[common]
    )
    get.set_defaults(handler=cmd_doc_get)
    get.add_argument("id", type=_positive)
    get.add_argument("-o", "--output", type=Path, metavar="PATH")
    return parser


# --- helpers --------------------------------------------------------------------------


def _client(store: Store) -> Client:
    config = store.load()
    return Client(config.url, config.token)


def _json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def _read_text_file(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExchangeError("file", f"{path}: no such file ({what})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ExchangeError("file", f"{path}: {error}") from None


def _upload(client: Client, store: Store, channel: str, path: Path) -> JSON:
    if not path.is_file():
        raise ExchangeError("file", f"{path}: no such file")
    identity = keys.load_identity(store)
    return attachments.upload(client, keys.EpochKeys(client, channel, identity), path)


# --- commands -------------------------------------------------------------------------


def cmd_login(args: argparse.Namespace, store: Store) -> int:
    if args.token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = _read_text_file(args.token_file, "the token file").strip()
    if not token or any(c.isspace() for c in token):
        raise ExchangeError("usage", "the token is empty or malformed")
    with Client(args.url, token) as client:
        me = client.me()
        store.save(Config(url=client.root, token=token))
    note(f"logged in to {client.root} as {me.get('username')}; saved in {store.path}")
    if _json(args):
        out_json(me)
    return EXIT_OK


def cmd_whoami(args: argparse.Namespace, store: Store) -> int:
    with _client(store) as client:
        me = client.me()
    if _json(args):
        out_json(me)
    else:
        institution = me.get("institution") or {}
        slug = institution.get("slug", "") if isinstance(institution, dict) else institution
        out(f"{me.get('username')}\t{me.get('display_name', '')}\t{slug}")
    return EXIT_OK


def cmd_channels(args: argparse.Namespace, store: Store) -> int:
    with _client(store) as client:
        for channel in client.channels():
            if _json(args):
                out_json(channel)
            else:
                role = channel.get("role") or ("member" if channel.get("is_member") else "-")
                if channel.get("is_moderator"):
                    role += "+moderator"
                out(f"{channel['slug']}\t{role}\t{channel.get('title', '')}")
    return EXIT_OK


def cmd_send(args: argparse.Namespace, store: Store) -> int:
    body = sys.stdin.read() if args.text == "-" else args.text
    for path in args.attach:
        if not path.is_file():
            raise ExchangeError("file", f"{path}: no such file")
    with _client(store) as client:
        ids = [int(_upload(client, store, args.channel, path)["id"]) for path in args.attach]
        message = client.send_message(
            args.channel,
            body,
            client_id=args.client_id,
            attachments=ids,
            handling_code=args.handling_code,
        )
    if _json(args):
        out_json(message)
    else:
        out(str(message["id"]))
    return EXIT_OK


def cmd_tail(args: argparse.Namespace, store: Store) -> int:
    emit: Callable[[JSON], None] = out_json if _json(args) else (lambda m: out(format_message(m)))
    with _client(store) as client:
        tail = Tail(client, store, args.channel, after=args.after, emit=emit)
        tail.backlog()
        if not args.once:
            asyncio.run(tail.follow())
    return EXIT_OK


def cmd_keygen(args: argparse.Namespace, store: Store) -> int:
    with _client(store) as client:
        identity, code = keys.keygen(client, store, force=args.force)
    recipient = identity.recipient.to_string()
    note(f"identity key {recipient} registered; kept in {store.identity_path}")
    note(f"fingerprint {keys.fingerprint(recipient)}")
    note("the recovery code below is shown once: write it down, it restores the key elsewhere")
    if _json(args):
        out_json({"public_key": recipient, "recovery_code": code})
    else:
        out(code)
    return EXIT_OK


def cmd_key_backup(args: argparse.Namespace, store: Store) -> int:
    with _client(store) as client:
        code = keys.backup_again(client, store)
    note("backup replaced; the earlier recovery code no longer opens it. The new code, once:")
    if _json(args):
        out_json({"recovery_code": code})
    else:
        out(code)
    return EXIT_OK


def cmd_key_restore(args: argparse.Namespace, store: Store) -> int:
    code = _read_text_file(args.recovery_code_file, "the recovery code file")
    with _client(store) as client:
        identity = keys.restore(client, store, code)
    recipient = identity.recipient.to_string()
    note(f"identity key {recipient} restored into {store.identity_path}")
    if _json(args):
        out_json({"public_key": recipient})
    else:
        out(recipient)
    return EXIT_OK


def cmd_share_pending(args: argparse.Namespace, store: Store) -> int:
    def report(channel: str, delivered: int) -> None:
        if _json(args):
            out_json({"channel": channel, "delivered": delivered})
        elif delivered or not args.watch:
            note(f"{channel}: {delivered} share(s) delivered")

    identity = keys.load_identity(store)
    with _client(store) as client:
        if args.watch:
            asyncio.run(sharing.watch(client, identity, args.channel, report))
            return EXIT_OK
        channels = [args.channel] if args.channel else sharing.member_channels(client)
        for channel in channels:
            sharing.deliver(client, identity, channel, report)
    return EXIT_OK


def cmd_upload(args: argparse.Namespace, store: Store) -> int:
    with _client(store) as client:
        answer = _upload(client, store, args.channel, args.file)
    if _json(args):
        out_json(answer)
    else:
        out(str(answer["id"]))
    return EXIT_OK


def cmd_download(args: argparse.Namespace, store: Store) -> int:
    identity = keys.load_identity(store)
    with _client(store) as client:
        path = attachments.download(client, identity, args.id, args.output)
    if _json(args):
        out_json({"id": args.id, "path": str(path)})
    else:
        out(str(path))
    return EXIT_OK


def cmd_doc_add(args: argparse.Namespace, store: Store) -> int:
    with _client(store) as client:
        language = args.language
        if not language:
            language = str(client.me().get("preferred_language") or "en")[:2]
        attachment = _upload(client, store, args.channel, args.file)
        payload: JSON = {
            "title": args.title,
            "summary": args.summary,
            "tags": args.tag,
            "language": language,
            "attachment": int(attachment["id"]),
        }
        if args.handling_code:
            payload["handling_code"] = args.handling_code
        document = client.add_document(args.channel, payload)
    if _json(args):
        out_json(document)
    else:
        out(str(document["id"]))
    return EXIT_OK


def cmd_doc_list(args: argparse.Namespace, store: Store) -> int:
    with _client(store) as client:
        if args.channel:
            documents = client.documents(args.channel, q=args.q)
        else:
            documents = client.library(q=args.q)
    for document in documents:
        if _json(args):
            out_json(document)
        else:
            versions = len(document.get("versions") or [])
            out(
                f"{document['id']}\t{document.get('channel', '')}\t{document.get('language', '')}"
                f"\tv{versions}\t{document.get('title', '')}"
            )
    return EXIT_OK


def cmd_doc_get(args: argparse.Namespace, store: Store) -> int:
    identity = keys.load_identity(store)
    with _client(store) as client:
        document = client.document(args.id)
        versions = sorted(document.get("versions") or [], key=lambda v: int(v["number"]))
        if not versions:
            raise ExchangeError("not_found", f"document {args.id} has no version")
        attachment_id = int(versions[-1]["attachment"]["id"])
        path = attachments.download(client, identity, attachment_id, args.output)
    if _json(args):
        out_json({"id": args.id, "attachment": attachment_id, "path": str(path)})
    else:
        out(str(path))
    return EXIT_OK


# --- the entry point ------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args, Store())
        return status
    except ExchangeError as error:
        note(f"error: {error.code}: {error.message}")
        return EXIT_USAGE if error.code == "usage" else EXIT_ERROR
    except KeyboardInterrupt:
        note("error: interrupted")
        return 130
    except BrokenPipeError:
        # stdout closed early (`| head`): not an error of ours; keep Python from another one
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as error:
        note(f"error: file: {error}")
        return EXIT_ERROR
    except Exception as error:
        if os.environ.get("EXCHANGE_CLI_DEBUG"):
            raise
        note(f"error: internal: {type(error).__name__}: {error}")
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
