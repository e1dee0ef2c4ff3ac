"""The built guide in a real browser, with no network: every page renders, search finds, nothing
leaves the machine.

    python -m consumers.site_check [--site site]

The site is served on 127.0.0.1 (a free port) by the standard library's HTTP server, and Debian's
Chromium, driven by playwright-core (consumers/site_check.mjs, pinned in package.json), opens every
page of it. The check fails when a page
- does not answer 200, has no title or no text, logs a console error or throws;
- makes a request to anything but the served site (the request is aborted before it leaves, and
  Chromium resolves no host name but 127.0.0.1), or a request of it fails or answers 4xx/5xx;
and when a search typed into Material's search box shows no result, or not the page expected.

Chromium is Debian's package: `make chromium` installs it (as root), or CHROMIUM names another binary.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from consumers.tools import ROOT, VENV_BIN, ToolMissing, tool_env

SCRIPT = ROOT / "consumers" / "site_check.mjs"
DEFAULT_CHROMIUM = Path("/usr/bin/chromium")
PAGE_TIMEOUT_MS = 20_000


@dataclasses.dataclass(frozen=True)
class Search:
    """A query typed into the search box of `page`; `expect`: a page that must be among the results."""

    query: str
    expect: str | None = None
    page: str = "index.html"


@dataclasses.dataclass(frozen=True)
class Report:
    base: str
    pages: list[dict[str, Any]]
    searches: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    blocked: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    bad_responses: list[dict[str, Any]]
    seconds: float

    def outside(self) -> list[str]:
        """Every URL a page asked for that is not the served site (none may be)."""
        origin = urlsplit(self.base)
        found = [r["url"] for r in self.requests if not _same_origin(r["url"], origin.scheme, origin.netloc)]
        return sorted({*found, *(r["url"] for r in self.blocked)})

    def problems(self, searches: Sequence[Search] = ()) -> list[str]:
        found: list[str] = []
        for page in self.pages:
            name = page["page"]
            if page["status"] != 200:
                found.append(f"{name}: status {page['status']}")
            if not page["title"] or page["textLength"] == 0:
                found.append(f"{name}: rendered no title or no text")
            found += [f"{name}: console error: {text}" for text in page["consoleErrors"]]
            found += [f"{name}: uncaught: {text}" for text in page["pageErrors"]]
        found += [f"{url}: a request left the served site" for url in self.outside()]
        blocked = {r["url"] for r in self.blocked}
        found += [
            f"{r['page']}: {r['url']} failed: {r['error']}" for r in self.failed if r["url"] not in blocked
        ]
        found += [f"{r['page']}: {r['url']} answered {r['status']}" for r in self.bad_responses]
        expected = {search.query: search.expect for search in searches}
        for search in self.searches:
            query, results = search["query"], search["results"]
            if search["error"] or not results:
                found.append(f"search {query!r}: no result ({search['error'] or 'empty'})")
            elif expected.get(query) and not any(
                urlsplit(r["href"]).path.endswith(f"/{expected[query]}") for r in results
            ):
                found.append(f"search {query!r}: {expected[query]} not among {[r['href'] for r in results]}")
        return found


def _same_origin(url: str, scheme: str, netloc: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"data", "blob", "about"} or (parts.scheme, parts.netloc) == (scheme, netloc)


def chromium() -> Path:
    path = Path(os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM)
    if not path.exists():
        raise ToolMissing(
            f"{path} is missing: `make chromium` installs Debian's chromium (as root), "
            "or set CHROMIUM=/path/to/chromium"
        )
    return path


def pages_of(site: Path) -> list[str]:
    """Every page of a built site, relative to it (index.html first)."""
    pages = sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html"))
    return sorted(pages, key=lambda page: page != "index.html")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def served(site: Path) -> Iterator[str]:
    """The site on http://127.0.0.1:<free port>/ for the duration of the block."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def check(
    site: Path,
    searches: Sequence[Search] = (),
    pages: Sequence[str] | None = None,
    timeout_ms: int = PAGE_TIMEOUT_MS,
) -> Report:
    """Open every page of `site` (or `pages`) in Chromium, then run `searches`; the report of it all."""
    node = VENV_BIN / "node" if (VENV_BIN / "node").exists() else shutil.which("node")
    if node is None:
        raise ToolMissing("node is missing: `make install` installs the pinned one into .venv")
    started = time.perf_counter()
    with served(site) as base:
        request = {
            "chromium": str(chromium()),
            "base": base,
            "pages": list(pages if pages is not None else pages_of(site)),
            "searches": [{"from": s.page, "query": s.query} for s in searches],
            "timeoutMs": timeout_ms,
        }
        result = subprocess.run(  # noqa: S603 - the pinned driver with our own arguments
            [str(node), str(SCRIPT), json.dumps(request)],
            cwd=ROOT,
            env=tool_env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"site check: the browser run failed ({result.returncode}):\n{result.stderr}")
    raw = json.loads(result.stdout)
    return Report(base=base, seconds=time.perf_counter() - started, **raw)


def default_searches() -> list[Search]:
    """What a reader would look for, and where they must land: a settings key (the generated page is
    indexed too) and the name of an operation."""
    from consumers.settings_reference import SETTINGS, sections
    from service.contract import get_contract

    _, found = sections(SETTINGS.read_text(encoding="utf-8"))
    key = next(setting.key for section in found for setting in section.settings if "_" in setting.key)
    operation = get_contract().operations[0].operation_id
    return [Search(query=key, expect="settings.html"), Search(query=operation)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--site", type=Path, default=ROOT / "site", help="the built site (make docs)")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").exists():
        print(f"site check: {args.site}/index.html is missing: `make docs` builds the site", file=sys.stderr)
        return 2
    searches = default_searches()
    try:
        report = check(args.site, searches)
    except (ToolMissing, RuntimeError) as error:
        print(f"site check: {error}", file=sys.stderr)
        return 2
    problems = report.problems(searches)
    for search in report.searches:
        print(f"site check: search {search['query']!r}: {len(search['results'])} result(s)")
    print(
        f"site check: {len(report.pages)} pages, {len(report.requests)} requests, all to {report.base} "
        f"in {report.seconds:.1f} s"
        if not report.outside()
        else f"site check: {len(report.outside())} request(s) to elsewhere"
    )
    for problem in problems:
        print(f"  FAIL {problem}")
    print("site check: " + ("FAIL" if problems else "PASS"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
