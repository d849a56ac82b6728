"""Check that a piece of HTML can run nothing and fetch nothing.

The HTML is parsed with html5lib, which follows the HTML5 parsing algorithm as browsers
do (entities in attributes decoded, foreign SVG/MathML content recognised, comments and
CDATA handled as a browser would), and every element and attribute is looked at. A URL's
scheme is read the way a browser's URL parser reads it: leading and trailing C0 controls
and spaces dropped, tabs and newlines inside removed, case ignored.
"""

from __future__ import annotations

import re

import html5lib
from html5lib.constants import namespaces

SAFE_SCHEMES = {"http", "https", "mailto"}
# Elements that run code, load something, change the page's style or base URL, or take
# input; SPEC §4 allows none of them in a message. Images are refused outright: a
# remote image tells its owner who read the message and when.
FORBIDDEN_TAGS = {
    "script", "style", "link", "meta", "base", "iframe", "frame", "frameset", "object",
    "embed", "applet", "img", "image", "picture", "source", "video", "audio", "track",
    "svg", "math", "form", "input", "button", "textarea", "select", "template",
    "noscript", "portal", "xmp", "plaintext",
}  # fmt: skip
URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "srcset", "poster", "background", "data",
    "xlink:href", "ping", "cite", "longdesc", "codebase",
}  # fmt: skip
LINK_REL = {"noopener", "noreferrer", "nofollow"}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def url_scheme(url: str) -> str | None:
    """The scheme a browser would see in `url` (lower case), or None if it is relative."""
    cleaned = url.strip(_C0_AND_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME.match(cleaned)
    return match.group(1).lower() if match else None


def _local_name(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name.lower()
    return namespaces["html"], tag.lower()


def _attribute_name(name: str) -> str:
    if name.startswith("{"):
        namespace, _, local = name[1:].partition("}")
        return f"xlink:{local}" if namespace == namespaces["xlink"] else local.lower()
    return name.lower()


def inert_problems(html: str) -> list[str]:
    """Every reason `html` is not inert; an empty list when it is."""
    fragment = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=True)
    problems: list[str] = []
    for element in fragment.iter():
        if element is fragment or not isinstance(element.tag, str):
            continue  # the fragment itself, or a comment (whose tag is a function)
        namespace, tag = _local_name(element.tag)
        if namespace != namespaces["html"]:
            problems.append(f"foreign element <{tag}> ({namespace})")
        if tag in FORBIDDEN_TAGS:
            problems.append(f"<{tag}> element")
        attributes = {_attribute_name(k): v for k, v in element.attrib.items()}
        for name, value in attributes.items():
            if name.startswith("on"):
                problems.append(f"event handler {name} on <{tag}>")
            if name in {"style", "srcdoc", "formaction", "http-equiv"}:
                problems.append(f"{name} attribute on <{tag}>")
            if name in URL_ATTRIBUTES:
                scheme = url_scheme(value)
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    problems.append(f"{name}={value!r} on <{tag}>")
        if tag == "a" and "href" in attributes:
            rel = set((attributes.get("rel") or "").split())
            if rel != LINK_REL:
                problems.append(f"link {attributes['href']!r} has rel={attributes.get('rel')!r}")
    return problems


def assert_inert(html: str) -> None:
    problems = inert_problems(html)
    assert not problems, f"{problems} in {html!r}"
