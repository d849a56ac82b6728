"""Routes, frames and pages parse, call and render: they run no ORM query.

import-linter (pyproject.toml, `[tool.importlinter]`) keeps them from importing a model,
but it cannot forbid `django.db` or a query on an object a selector handed back, so this
reads their source: no `.objects`, no QuerySet method. The modules checked are the
sources of the "routes" contract, so the two lists cannot drift apart. The contracts
themselves run here too, so the suite fails where `make lint` would.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Methods only a QuerySet or a manager has: a call to one of them is a query being built.
QUERYSET_ONLY = frozenset(
    {
        "aggregate",
        "annotate",
        "bulk_create",
        "bulk_update",
        "defer",
        "distinct",
        "earliest",
        "exclude",
        "exists",
        "filter",
        "first",
        "get_or_create",
        "in_bulk",
        "iterator",
        "last",
        "latest",
        "only",
        "order_by",
        "prefetch_related",
        "raw",
        "select_for_update",
        "select_related",
        "update_or_create",
        "values_list",
    }
)
# Names a dict, a router or a str has too (`request.GET.get`, `@router.delete`,
# `str.count`): a query only when called on a query being built or on a manager.
QUERYSET_TOO = frozenset({"all", "count", "create", "delete", "get", "update", "values"})
# A line that truly needs a query says so, with the reason: `# query-ok: <why>`.
ALLOW_MARK = "# query-ok:"


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.what}"


def _is_query(node: ast.expr) -> bool:
    """Whether `node` evaluates to a QuerySet or manager: `.objects`, a related
    manager's `.all()`, or a chain ending in a QuerySet method."""
    if isinstance(node, ast.Attribute):
        return node.attr == "objects" or _is_query(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        method = node.func.attr
        if method in QUERYSET_ONLY or (method == "all" and not node.args and not node.keywords):
            return True
        return method in QUERYSET_TOO and _is_query(node.func.value)
    return False


def queries_in(source: str, path: Path) -> list[Finding]:
    """Every place in `source` that reaches the ORM directly."""
    lines = source.splitlines()
    findings: list[Finding] = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        what = None
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            what = "`.objects`: ask a selector or a service"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method in QUERYSET_ONLY:
                what = f"`.{method}()`: a query; give the selector a parameter instead"
            elif method == "all" and not node.args and not node.keywords:
                what = "`.all()`: a query on a manager; ask a selector"
            elif method in QUERYSET_TOO and _is_query(node.func.value):
                what = f"`.{method}()` on a query; ask a selector or a service"
        if what is not None and ALLOW_MARK not in lines[node.lineno - 1]:
            findings.append(Finding(path, node.lineno, what))
    return sorted(findings, key=lambda f: f.line)


def _module_paths(pattern: str) -> list[Path]:
    """The files of an import-linter module name, where `*` stands for one package."""
    matches = sorted(ROOT.glob(pattern.replace(".", "/") + ".py"))
    assert matches, f"the routes contract names {pattern}, which matches no module"
    return matches


def route_modules() -> list[Path]:
    """The source modules of the "routes" contract in pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (routes,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "routes"]
    return sorted({path for pattern in routes["source_modules"] for path in _module_paths(pattern)})


def test_routes_frames_and_pages_run_no_query() -> None:
    modules = route_modules()
    assert len(modules) >= 15, modules  # every api.py and views.py, the socket, the API root
    findings = [f for path in modules for f in queries_in(path.read_text(), path)]
    assert not findings, "ORM queries outside selectors and services:\n" + "\n".join(
        map(str, findings)
    )


def test_the_check_finds_what_it_is_meant_to_and_nothing_else() -> None:
    """Without this, a checker that looked at nothing would pass too."""
    caught = """
Epoch.objects.filter(channel=c)
selectors.bannable_users(c).filter(username=u).first()
admission.institution.users.filter(is_active=True).count()
user.api_tokens.all()
Report.objects.get(pk=1)
found.exists()
"""
    lines = {f.line for f in queries_in(caught, ROOT / "example.py")}
    assert lines == {2, 3, 4, 5, 6, 7}, lines
    innocent = """
request.GET.get("page")
raw.get("type")
self.subscriptions.get(event["channel_id"])
frame.update(extra)
text.count("a")
@router.delete("/tokens/{token_id}")
def token_delete(): ...
Thing.objects  # query-ok: a reason
"""
    assert queries_in(innocent, ROOT / "example.py") == []


def test_the_import_contracts_hold() -> None:
    """`lint-imports`, as `make lint` runs it: every contract in pyproject.toml is kept."""
    command = Path(sys.executable).with_name("lint-imports")
    executable = str(command) if command.exists() else shutil.which("lint-imports")
    assert executable, "import-linter is not installed (pip install -e '.[dev]')"
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    result = subprocess.run(
        [executable, "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
