"""The reference page: one static HTML file built from the contract by Redocly CLI (pinned).

    python -m consumers.docs [--out reports/reference/index.html]

Redoc's scripts are inlined (`--inlineBundle`), so the page fetches nothing when it is viewed:
it works from a file, offline, or from any static host. After building, the page is checked for
anything a browser would fetch from elsewhere (scripts, styles, fonts, images, preloads).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from consumers.tools import CONTRACT, ROOT, node_tool, run_tool

OUT = ROOT / "reports" / "reference" / "index.html"

# What makes a browser fetch: src/href on script, link, img, iframe, source; CSS url() and @import.
_FETCHING_TAG = re.compile(
    r"<(?:script|link|img|iframe|source|embed|object)\b[^>]*?\b(?:src|href|data|srcset)\s*=\s*[\"']?"
    r"(?P<url>(?:https?:)?//[^\"'\s>]+)",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"(?:url\(\s*[\"']?|@import\s+[\"'])(?P<url>(?:https?:)?//[^\"')\s]+)", re.IGNORECASE)


class DocsFailed(RuntimeError):
    """Redocly failed, or the page would fetch something at view time."""


def external_fetches(html: str) -> list[str]:
    """URLs outside the page that a browser would load to show it (none for a self-contained page)."""
    found = [m.group("url") for m in _FETCHING_TAG.finditer(html)]
    found += [m.group("url") for m in _CSS_URL.finditer(html)]
    # A JS module importing from a URL, e.g. import { hydrate } from "https://cdn…/redoc.standalone.js"
    found += re.findall(r"\bimport\b[^;\"']*?[\"'](?P<url>(?:https?:)?//[^\"']+)[\"']", html)
    return sorted(set(found))


def build(out: Path = OUT, contract: Path = CONTRACT) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    result = run_tool(
        [str(node_tool("redocly")), "build-docs", str(contract), "--inlineBundle", "--output", str(out)]
    )
    if result.returncode != 0 or not out.exists():
        raise DocsFailed(f"redocly build-docs exited {result.returncode}:\n{result.stdout}{result.stderr}")
    fetches = external_fetches(out.read_text(encoding="utf-8"))
    if fetches:
        raise DocsFailed(f"{out} would fetch at view time: {', '.join(fetches)}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        page = build(args.out)
    except DocsFailed as error:
        print(f"docs: {error}", file=sys.stderr)
        return 1
    shown = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page
    size_kib, seconds = page.stat().st_size / 1024, time.perf_counter() - started
    print(f"docs: {shown} ({size_kib:.0f} KiB, self-contained) in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
