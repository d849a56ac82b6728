"""Check that a piece of HTML can run nothing: parse it and look at every element."""

from __future__ import annotations

from html.parser import HTMLParser

SAFE_SCHEMES = ("http://", "https://", "mailto:")
FORBIDDEN_TAGS = {"script", "img", "svg", "iframe", "object", "embed", "style", "form", "input"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def assert_inert(html: str) -> None:
    collector = _Collector()
    collector.feed(html)
    for tag, attrs in collector.elements:
        assert tag not in FORBIDDEN_TAGS, f"<{tag}> survived in {html!r}"
        for name, value in attrs:
            assert not name.startswith("on"), f"{name} on <{tag}> survived"
            assert name != "style", f"style on <{tag}> survived"
            if name in {"href", "src", "action", "formaction"}:
                assert (value or "").lower().startswith(SAFE_SCHEMES), f"{name}={value!r} survived"
        if tag == "a":
            assert dict(attrs).get("rel") == "noopener noreferrer nofollow"
