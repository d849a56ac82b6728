"""WebSocket fan-out benchmark: the full Exchange path against a Channels floor and a ceiling.

Why: every message an institution posts is fanned out to every subscribed socket. This
measures how fast and how completely that happens through the real stack (daphne serving
``exchange.asgi:application``, bearer-token auth, ``message.send`` -> commit -> ``message.ack``
-> ``message.new`` to each subscriber), and puts the figures next to, on the same channel
layer and topology:

* ``bare``  - a minimal Channels consumer that only does ``group_send`` (``bare_consumer``):
  what Channels and daphne cost by themselves, the floor of our overhead;
* ``plain`` - a plain ``websockets`` broadcast server (``plain_ws_server``): the ceiling.

For each subscriber count it runs a light open-loop rate and a saturating closed loop, and
prints deliveries/s, p50/p99 of ack and delivery latency, and messages lost (acked messages
some subscriber never received before the drain timeout).

Topologies: ``one`` - one process per system, in-memory layer, SQLite in a temp dir;
``two`` - two processes per system, RedisPubSubChannelLayer on the local Redis, PostgreSQL
database ``exchange_bench`` (dropped and created by this script); sockets alternate ports.

Run from the repository root:
    .venv/bin/python bench/ws_fanout.py --quick
    .venv/bin/python bench/ws_fanout.py --topology two --subscribers 10,50,200 --json
    .venv/bin/python bench/ws_fanout.py --targets bare,plain   # without the app
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fanout_load import Kind, Mode, RoundResult, RoundSpec, Target, run_round
from bench.fanout_procs import (
    REPO,
    ProcessSet,
    ServerProcess,
    daphne_argv,
    free_port,
    log,
    plain_argv,
    prepare_full_data,
    recreate_pg_database,
    require_loopback,
    terminate_as_exit,
)

KINDS: tuple[Kind, ...] = ("full", "bare", "plain")
MODES: tuple[Mode, ...] = ("light", "saturate")


@dataclass(frozen=True)
class Plan:
    """Everything a run does, resolved from the command line."""

    topology: str
    kinds: tuple[Kind, ...]
    modes: tuple[Mode, ...]
    subscribers: tuple[int, ...]
    light_rate: float
    light_senders: int
    light_duration: float
    sat_senders: int
    sat_window: int
    sat_duration: float
    drain_timeout: float
    ack_timeout: float
    connect_timeout: float
    body_size: int
    max_messages: int
    sub_users: int
    setup_via: str
    redis_url: str
    pg_admin_url: str
    pg_database: str
    warmup: bool
    server_env: tuple[tuple[str, str], ...] = ()
    full_server: str = "exchange.server"

    @property
    def processes(self) -> int:
        return 2 if self.topology == "two" else 1

    def spec(self, subscribers: int, mode: Mode) -> RoundSpec:
        light = mode == "light"
        return RoundSpec(
            subscribers=subscribers,
            senders=self.light_senders if light else self.sat_senders,
            mode=mode,
            duration=self.light_duration if light else self.sat_duration,
            rate=self.light_rate,
            window=self.sat_window,
            drain_timeout=self.drain_timeout,
            ack_timeout=self.ack_timeout,
            connect_timeout=self.connect_timeout,
            body_size=self.body_size,
            max_messages=self.max_messages,
        )


def _csv(
    kind: Callable[[str], Any], allowed: tuple[Any, ...] | None = None
) -> Callable[[str], tuple[Any, ...]]:
    """An argparse type for comma lists such as ``10,50,200`` or ``full,bare``."""

    def parse(text: str) -> tuple[Any, ...]:
        items = tuple(kind(x.strip()) for x in text.split(",") if x.strip())
        if not items or (allowed and any(x not in allowed for x in items)):
            raise argparse.ArgumentTypeError(f"expected a comma list of {allowed or kind}")
        return items

    return parse


def _key_value(parser: argparse.ArgumentParser, item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        parser.error(f"--server-env wants KEY=VALUE, got {item!r}")
    return key, value


def parse_args(argv: list[str] | None) -> tuple[Plan, argparse.Namespace]:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--topology", choices=("one", "two"), default="one")
    p.add_argument("--targets", type=_csv(str, KINDS), default=KINDS, help="full,bare,plain")
    p.add_argument("--modes", type=_csv(str, MODES), default=MODES, help="light,saturate")
    p.add_argument("--subscribers", type=_csv(int), default=None, help="default 10,50,200")
    p.add_argument(
        "--quick", action="store_true", help="smoke run: 10,50 subs, 1.5 s phases, no warm-up"
    )
    p.add_argument("--light-rate", type=float, default=20.0, help="msg/s, all senders")
    p.add_argument("--light-senders", type=int, default=2)
    p.add_argument("--light-duration", type=float, default=10.0, help="seconds of sending")
    p.add_argument("--sat-senders", type=int, default=4)
    p.add_argument("--sat-window", type=int, default=1, help="in-flight sends per sender")
    p.add_argument("--sat-duration", type=float, default=10.0)
    p.add_argument("--drain-timeout", type=float, default=10.0)
    p.add_argument("--ack-timeout", type=float, default=10.0)
    p.add_argument("--connect-timeout", type=float, default=30.0)
    p.add_argument("--body-size", type=int, default=200)
    p.add_argument("--max-messages", type=int, default=50_000, help="cap per round")
    p.add_argument("--sub-users", type=int, default=10, help="users the subscribers share")
    p.add_argument("--setup-via", choices=("shell", "commands"), default="shell")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--pg-database", default="exchange_bench")
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the servers (repeatable), e.g. EXCHANGE_DB_CONN_MAX_AGE=60",
    )
    p.add_argument(
        "--full-server",
        default="exchange.server",
        help="module run with -m for the full path (exchange.server, as deployed, or daphne)",
    )
    p.add_argument("--no-warmup", action="store_true")
    p.add_argument("--keep-logs", action="store_true", help="keep the temp dir with the logs")
    p.add_argument("--json", action="store_true", help="JSON on stdout, the table on stderr")
    a = p.parse_args(argv)
    if a.subscribers is None:
        a.subscribers = (10, 50) if a.quick else (10, 50, 200)
    if a.quick:  # 12 rounds in under a minute, even on a busy machine
        a.light_duration = a.sat_duration = 1.5
        a.drain_timeout = min(a.drain_timeout, 3.0)
    if a.body_size < 40 or a.light_rate <= 0 or min(a.subscribers) < 1:
        p.error("--body-size must be >= 40, --light-rate > 0, subscribers >= 1")
    for url in (a.redis_url, a.pg_admin_url):
        require_loopback(url)
    plan = Plan(
        topology=a.topology,
        kinds=tuple(k for k in KINDS if k in a.targets),
        modes=tuple(m for m in MODES if m in a.modes),
        subscribers=tuple(a.subscribers),
        light_rate=a.light_rate,
        light_senders=max(1, a.light_senders),
        light_duration=a.light_duration,
        sat_senders=max(1, a.sat_senders),
        sat_window=max(1, a.sat_window),
        sat_duration=a.sat_duration,
        drain_timeout=a.drain_timeout,
        ack_timeout=a.ack_timeout,
        connect_timeout=a.connect_timeout,
        body_size=a.body_size,
        max_messages=a.max_messages,
        sub_users=max(1, min(a.sub_users, max(a.subscribers))),
        setup_via=a.setup_via,
        redis_url=a.redis_url,
        pg_admin_url=a.pg_admin_url,
        pg_database=a.pg_database,
        warmup=not (a.no_warmup or a.quick),  # a smoke run has no time for it
        server_env=tuple(_key_value(p, item) for item in a.server_env),
        full_server=a.full_server,
    )
    return plan, a


# -- servers -------------------------------------------------------------------------------


def base_env(plan: Plan, workdir: Path) -> dict[str, str]:
    """The environment every server gets: the app's settings variables, production-like."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    env.update(
        EXCHANGE_DEBUG="0",
        EXCHANGE_SECRET_KEY=secrets.token_urlsafe(48),
        EXCHANGE_ALLOWED_HOSTS="127.0.0.1,localhost",
        EXCHANGE_SSL_REDIRECT="0",
        # The bench measures fan-out, not the limiter: a few senders saturate the server
        # far past a person's rate, and 200 subscribers share 10 users. The checks still
        # run (their cost is measured), with limits the load never reaches.
        EXCHANGE_RATE_WS_FRAMES="1000000/second",
        EXCHANGE_MAX_SOCKETS_PER_USER="100000",
        PYTHONUNBUFFERED="1",
    )
    if plan.topology == "two":
        env["REDIS_URL"] = plan.redis_url
        admin = plan.pg_admin_url.rsplit("/", 1)[0]
        env["DATABASE_URL"] = f"{admin}/{plan.pg_database}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    env.update(plan.server_env)
    return env


def _require_app() -> None:
    missing = [p for p in ("manage.py", "exchange/asgi.py") if not (REPO / p).exists()]
    if missing:
        raise RuntimeError(
            f"the full path needs {', '.join(missing)}; run with --targets bare,plain meanwhile"
        )


def start_targets(plan: Plan, procs: ProcessSet, workdir: Path) -> tuple[list[Target], float]:
    """Prepare the full path's data, start every server, wait until all listen.

    All servers start before the first round and stay up for the whole run, so the rounds of
    the three systems can be interleaved (same machine state for each comparison).
    """
    env = base_env(plan, workdir)
    full_env = {**env, "DJANGO_SETTINGS_MODULE": "exchange.settings"}
    redis = plan.redis_url if plan.topology == "two" else None
    sub_tokens: tuple[str, ...] = ()
    send_tokens: tuple[str, ...] = ()
    setup_seconds = 0.0
    if "full" in plan.kinds:
        _require_app()
        if plan.topology == "two":
            log(f"recreating PostgreSQL database {plan.pg_database}")
            recreate_pg_database(plan.pg_admin_url, plan.pg_database)
        log(f"migrating and creating users/tokens via {plan.setup_via} ({env['DATABASE_URL']})")
        data = prepare_full_data(
            full_env,
            CHANNEL,
            plan.sub_users,
            max(plan.light_senders, plan.sat_senders),
            plan.setup_via,
        )
        sub_tokens, send_tokens, setup_seconds = data.sub_tokens, data.send_tokens, data.seconds
        log(f"full-path data ready in {setup_seconds:.1f}s")

    plain_prefix = f"benchplain:{secrets.token_hex(4)}:"  # one per run, shared by processes
    launched: list[tuple[Kind, list[ServerProcess]]] = []
    for kind in plan.kinds:
        servers: list[ServerProcess] = []
        for i in range(plan.processes):
            port = free_port()
            name = f"{kind}-{i}"
            if kind == "full":
                argv = daphne_argv(port, "exchange.asgi:application", plan.full_server)
                servers.append(procs.start(name, argv, full_env, port))
            elif kind == "bare":
                argv = daphne_argv(port, "bench.bare_consumer:application")
                servers.append(procs.start(name, argv, env, port))
            else:
                argv = plain_argv(port, redis, plain_prefix)
                servers.append(procs.start(name, argv, env, port))
        launched.append((kind, servers))

    targets: list[Target] = []
    for kind, servers in launched:
        for server in servers:
            server.wait_ready(timeout=60)
        full = kind == "full"
        targets.append(
            Target(
                kind,
                tuple(s.port for s in servers),
                tuple(s.pid for s in servers),
                sub_tokens if full else (),
                send_tokens if full else (),
                CHANNEL,
            )
        )
        log(f"{kind}: listening on {', '.join(str(s.port) for s in servers)}")
    return targets, setup_seconds


def _check_alive(procs: ProcessSet) -> None:
    for server in procs.servers:
        if server.popen is not None and server.popen.poll() is not None:
            raise RuntimeError(
                f"{server.name} died (exit {server.popen.returncode}):\n{server.log_tail()}"
            )


# -- rounds --------------------------------------------------------------------------------

CHANNEL = "cybercrime"


def _round_bound(spec: RoundSpec) -> float:
    """A hard ceiling on one round's wall time, whatever the servers do."""
    connect_waves = 2 + (spec.subscribers + spec.senders) // spec.connect_concurrency
    return (
        connect_waves * spec.connect_timeout
        + spec.duration
        + spec.ack_timeout
        + (spec.drain_timeout + 30)
    )


async def run_all(
    plan: Plan, targets: list[Target], procs: ProcessSet, results: list[RoundResult]
) -> None:
    """Warm each target up, then interleave targets inside each (subscribers, mode) cell.

    Results are appended to ``results`` as they come, so an interrupted run still reports.
    """
    if plan.warmup:
        warm = RoundSpec(2, 1, "light", 0.5, 20.0, 1, 3.0, 5.0, plan.connect_timeout)
        for target in targets:
            done = await asyncio.wait_for(run_round(target, warm), _round_bound(warm))
            log(f"warm-up {target.kind}: acked {done.acked}/{done.sent} {'; '.join(done.notes)}")
    for subscribers in plan.subscribers:
        for mode in plan.modes:
            for target in targets:
                _check_alive(procs)
                spec = plan.spec(subscribers, mode)
                try:
                    result = await asyncio.wait_for(run_round(target, spec), _round_bound(spec))
                except TimeoutError:
                    result = RoundResult(target.kind, subscribers, spec.senders, mode)
                    result.notes.append(f"round exceeded its bound of {_round_bound(spec):.0f}s")
                results.append(result)
                log(_one_line(result))
                await asyncio.sleep(0.3)  # let the servers finish closing the sockets
    _check_alive(procs)


# -- report --------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _one_line(r: RoundResult) -> str:
    return (
        f"{r.kind:5} subs={r.subscribers:<4} {r.mode:8} acked {r.acked}/{r.sent} "
        f"deliv/s {_f(r.deliveries_per_s, 0)} ack p50 {_f(r.ack_p50_ms)}ms "
        f"dlv p50/p99 {_f(r.deliv_p50_ms)}/{_f(r.deliv_p99_ms)}ms lost {r.lost} "
        f"errors {sum(r.errors.values())} {'; '.join(r.notes)}"
    )


COLUMNS = (
    ("target", 6, lambda r: r.kind),
    ("subs", 5, lambda r: str(r.subscribers)),
    ("mode", 8, lambda r: r.mode),
    ("sent", 7, lambda r: str(r.sent)),
    ("acked", 7, lambda r: str(r.acked)),
    ("msg/s", 8, lambda r: _f(r.msgs_per_s)),
    ("deliv/s", 9, lambda r: _f(r.deliveries_per_s, 0)),
    ("ack p50", 8, lambda r: _f(r.ack_p50_ms)),
    ("ack p99", 8, lambda r: _f(r.ack_p99_ms)),
    ("dlv p50", 8, lambda r: _f(r.deliv_p50_ms)),
    ("dlv p99", 8, lambda r: _f(r.deliv_p99_ms)),
    ("lost", 6, lambda r: str(r.lost)),
    ("subs-", 5, lambda r: str(r.subs_with_loss)),
    ("dup", 4, lambda r: str(r.duplicates)),
    ("err", 4, lambda r: str(sum(r.errors.values()) + r.connect_failures)),
    ("ms/msg", 7, lambda r: _f(r.server_cpu_ms_per_msg, 2)),
    ("srv%", 5, lambda r: _f(r.server_cpu_pct, 0)),
    ("cli%", 5, lambda r: _f(r.client_cpu_pct, 0)),
    ("oth%", 5, lambda r: _f(r.other_cpu_pct, 0)),
)


def ratios(results: list[RoundResult]) -> list[dict[str, Any]]:
    """full/bare and full/plain for deliveries/s and latencies, per (subscribers, mode)."""
    cells: dict[tuple[int, str], dict[str, RoundResult]] = {}
    for r in results:
        cells.setdefault((r.subscribers, r.mode), {})[r.kind] = r
    out: list[dict[str, Any]] = []
    for (subs, mode), by_kind in cells.items():
        full = by_kind.get("full")
        row: dict[str, Any] = {"subscribers": subs, "mode": mode}
        for other in ("bare", "plain"):
            base = by_kind.get(other)
            if full is None or base is None:
                continue
            row[f"deliveries_per_s_full_over_{other}"] = _ratio(
                full.deliveries_per_s, base.deliveries_per_s
            )
            row[f"deliv_p50_full_over_{other}"] = _ratio(full.deliv_p50_ms, base.deliv_p50_ms)
            row[f"deliv_p99_full_over_{other}"] = _ratio(full.deliv_p99_ms, base.deliv_p99_ms)
            row[f"ack_p50_full_over_{other}"] = _ratio(full.ack_p50_ms, base.ack_p50_ms)
        out.append(row)
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def render(
    plan: Plan, results: list[RoundResult], extra: dict[str, Any], out: Any = sys.stdout
) -> None:
    """The readable table, the ratios and a short summary."""
    stack = "RedisPubSub layer + PostgreSQL" if plan.topology == "two" else "in-memory + SQLite"
    title = f"ws_fanout  topology={plan.topology}: {plan.processes} process(es) per target, {stack}"
    if plan.full_server != "exchange.server":
        title += f"; full path served by python -m {plan.full_server}"
    if plan.server_env:
        title += "; server env " + " ".join(f"{k}={v}" for k, v in plan.server_env)
    print(title, file=out)
    print(
        f"light: {plan.light_rate:g} msg/s from {plan.light_senders} senders for "
        f"{plan.light_duration:g}s; saturate: {plan.sat_senders} senders x window "
        f"{plan.sat_window} for {plan.sat_duration:g}s; body {plan.body_size} B; "
        f"drain timeout {plan.drain_timeout:g}s; latencies in ms",
        file=out,
    )
    print(
        "lost = acked messages x subscribers that never arrived; subs- = subscribers with "
        "a loss; ms/msg = server CPU per acked message; srv%/cli%/oth% = CPU of the "
        "target's servers / this client / everything else (100 = one core)",
        file=out,
    )
    header = " ".join(f"{name:>{width}}" for name, width, _ in COLUMNS)
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in results:
        print(" ".join(f"{get(r):>{width}}" for _, width, get in COLUMNS), file=out)
    rows = ratios(results)
    if any(len(row) > 2 for row in rows):
        print("\nratios (full / other): deliveries/s (higher is better), latency (lower)", file=out)
        print(
            f"{'subs':>5} {'mode':>8} {'dlv/s bare':>10} {'dlv/s plain':>11} "
            f"{'p50 bare':>9} {'p50 plain':>9} {'p99 bare':>9} {'p99 plain':>9}",
            file=out,
        )
        for row in rows:
            cells = (
                row.get("deliveries_per_s_full_over_bare"),
                row.get("deliveries_per_s_full_over_plain"),
                row.get("deliv_p50_full_over_bare"),
                row.get("deliv_p50_full_over_plain"),
                row.get("deliv_p99_full_over_bare"),
                row.get("deliv_p99_full_over_plain"),
            )
            print(
                f"{row['subscribers']:>5} {row['mode']:>8} "
                + " ".join(
                    f"{_f(c, 2):>{w}}" for c, w in zip(cells, (10, 11, 9, 9, 9, 9), strict=True)
                ),
                file=out,
            )
    print("\nsummary", file=out)
    for line in summary_lines(results, extra):
        print(f"  {line}", file=out)


def summary_lines(results: list[RoundResult], extra: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for row in ratios(results):
        if row["mode"] != "saturate":
            continue
        fb = row.get("deliveries_per_s_full_over_bare")
        fp = row.get("deliveries_per_s_full_over_plain")
        if fb is not None or fp is not None:
            lines.append(
                f"saturated, {row['subscribers']} subscribers: full delivers "
                f"{_f(fb, 2)}x bare and {_f(fp, 2)}x plain"
            )
    for kind in KINDS:
        mine = [r for r in results if r.kind == kind]
        if not mine:
            continue
        lost = sum(r.lost for r in mine)
        expected = sum(r.expected_deliveries for r in mine)
        errors: dict[str, int] = {}
        for r in mine:
            for code, n in r.errors.items():
                errors[code] = errors.get(code, 0) + n
        best = max(mine, key=lambda r: r.deliveries_per_s)
        lines.append(
            f"{kind}: best {_f(best.deliveries_per_s, 0)} deliveries/s "
            f"({best.subscribers} subs, {best.mode}); lost {lost} of {expected} deliveries "
            f"in {sum(1 for r in mine if r.lost)} round(s); unacked {sum(r.unacked for r in mine)}"
            f"; refused {sum(r.refused for r in mine)}; errors {errors or 'none'}"
        )
    for kind in KINDS:
        connects = [r for r in results if r.kind == kind and r.connect_p50_ms is not None]
        if connects:
            widest = max(connects, key=lambda r: r.subscribers)
            lines.append(
                f"{kind}: connect+subscribe of {widest.subscribers} sockets "
                f"({widest.mode}) p50 {_f(widest.connect_p50_ms)} ms, "
                f"p99 {_f(widest.connect_p99_ms)} ms"
            )
    noisy = [r for r in results if (r.other_cpu_pct or 0) > 25]
    if noisy:
        lines.append(
            f"other processes took > 25% CPU in {len(noisy)} round(s) (column oth%): "
            "those figures are disturbed; rerun on a quiet machine"
        )
    bound = [r for r in results if (r.client_cpu_pct or 0) > 90]
    if bound:
        lines.append(
            f"client CPU > 90% in {len(bound)} round(s): there the client, not the server, may "
            "be the limit (2 cores shared by client and servers)"
        )
    for r in results:
        if r.lost:
            lines.append(
                f"{r.kind} {r.subscribers} {r.mode}: {r.lost_messages} acked message(s) missed "
                f"by some subscriber, {r.lost_by_all} by all of them"
                + (
                    f"; {r.lost_overtaken} of them were overtaken (acked after a higher id; "
                    f"{r.overtaken} overtaken in all)"
                    if r.kind == "full"
                    else ""
                )
            )
        for note in r.notes:
            lines.append(f"{r.kind} {r.subscribers} {r.mode}: {note}")
    if extra.get("setup_seconds"):
        lines.append(f"full-path setup (migrate + data) took {extra['setup_seconds']:.1f}s")
    for name, problems in extra.get("server_log_problems", {}).items():
        real = problems["errors"] - problems["teardown_noise"]
        lines.append(
            f"{name} log: {problems['errors']} error(s) ({problems['teardown_noise']} teardown "
            f"'{TEARDOWN_NOISE}'), {problems['tracebacks']} traceback(s)"
            + (f"; top: {next(iter(problems['messages']))}" if real > 0 else "")
        )
    return lines


# Logged when a group event reaches a consumer whose socket just closed: Channels' own
# teardown race at the end of a round, not a fault of the system under test.
TEARDOWN_NOISE = "Attempt to send on a closed protocol"
# daphne's format has a level column; the app's LOGGING prints the bare message.
ERROR_LINE = re.compile(r"\b(?:ERROR|CRITICAL)\s+(.*)|^(Exception inside application: .*)")


def scan_logs(procs: ProcessSet) -> dict[str, dict[str, Any]]:
    """Errors the servers logged, by message: evidence for what broke under load."""
    found: dict[str, dict[str, Any]] = {}
    for server in procs.servers:
        try:
            lines = server.log_path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        kinds: Counter[str] = Counter()
        for line in lines:
            match = ERROR_LINE.search(line)
            if match:
                kinds[(match.group(1) or match.group(2)).strip()[:200]] += 1
        tracebacks = sum(1 for line in lines if line.startswith("Traceback"))
        noise = sum(n for text, n in kinds.items() if TEARDOWN_NOISE in text)
        if kinds or tracebacks:
            found[server.name] = {
                "errors": sum(kinds.values()),
                "tracebacks": tracebacks,
                "teardown_noise": noise,
                "messages": dict(kinds.most_common(5)),
                "log": str(server.log_path),
            }
    return found


def environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str] = {}
    for package in ("django", "channels", "daphne", "channels-redis", "redis", "websockets"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "-"
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "packages": versions}


async def _cancellable(work: Coroutine[Any, Any, None]) -> None:
    """Let SIGTERM/SIGHUP cancel the rounds cleanly (sockets closed) instead of tearing the
    event loop down mid-frame; SIGINT gets the same from ``asyncio.run`` already."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await work
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    plan, args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ws_fanout-"))
    procs = ProcessSet(workdir)
    started = time.monotonic()
    keep = args.keep_logs
    results: list[RoundResult] = []
    extra: dict[str, Any] = {}
    code = 0
    try:
        with terminate_as_exit():
            targets, extra["setup_seconds"] = start_targets(plan, procs, workdir)
            asyncio.run(_cancellable(run_all(plan, targets, procs, results)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted")
        code, keep = 130, True
    except (RuntimeError, TimeoutError, OSError) as exc:
        log(f"failed: {type(exc).__name__}: {exc}")
        code, keep = 1, True
    finally:
        procs.stop_all()
        extra["server_log_problems"] = scan_logs(procs)
        problems = extra["server_log_problems"].values()
        if any(
            p["errors"] > p["teardown_noise"] or p["tracebacks"] > p["errors"] for p in problems
        ):
            keep = True
        if keep:
            log(f"server logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    extra["elapsed_seconds"] = round(time.monotonic() - started, 1)
    if results:
        render(plan, results, extra, out=sys.stderr if args.json else sys.stdout)
    if args.json:
        document = {
            "plan": asdict(plan),
            "environment": environment(),
            **extra,
            "results": [asdict(r) for r in results],
            "ratios": ratios(results),
            "exit_code": code,
        }
        print(json.dumps(document, indent=2))
    log(f"done in {extra['elapsed_seconds']}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
