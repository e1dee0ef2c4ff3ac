"""The guide (docs/, mkdocs.yml) and its API reference page, built offline.

    python -m consumers.docs [--site site] [--reference reports/reference/index.html]

The reference page is one static HTML file built from the contract by Redocly CLI (pinned). Redoc's
scripts are inlined (`--inlineBundle`), so the page fetches nothing when it is viewed: it works from
a file, offline, or from any static host.

The guide is built by MkDocs with the Material theme (pinned in pyproject.toml's `docs` extra) in
strict mode: a broken link or anchor, a page missing from the nav, a nav entry without its page fail
the build. Its hook (docs/hooks/guide.py) adds the reference page as `reference/index.html` and the
settings reference generated from settings.yaml. Afterwards every page of the site is checked for
anything a browser would fetch from elsewhere (scripts, styles, fonts, images, preloads);
consumers/site_check.py then opens every page in Chromium with no network.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from consumers.tools import CONTRACT, ROOT, VENV_BIN, node_tool, run_tool, tool_env

OUT = ROOT / "reports" / "reference" / "index.html"
SITE = ROOT / "site"
MKDOCS_CONFIG = ROOT / "mkdocs.yml"
# The reference page the guide's hook takes (and rebuilds when stale): OUT unless this names another.
REFERENCE_PAGE_ENV = "GUIDE_REFERENCE_PAGE"
# What the reference page is built from: a newer one of these makes the page stale.
REFERENCE_INPUTS = (CONTRACT, ROOT / "redocly.yaml", ROOT / "package-lock.json")

# What makes a browser fetch: src/href on script, link, img, iframe, source; CSS url() and @import.
_FETCHING_TAG = re.compile(
    r"<(?:script|link|img|iframe|source|embed|object)\b[^>]*?\b(?:src|href|data|srcset)\s*=\s*[\"']?"
    r"(?P<url>(?:https?:)?//[^\"'\s>]+)",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"(?:url\(\s*[\"']?|@import\s+[\"'])(?P<url>(?:https?:)?//[^\"')\s]+)", re.IGNORECASE)
# Script that sets an element's source to a URL: `img.src = "https://…"`, React's `{src: e ? `https://…`}`.
_SCRIPT_SRC = re.compile(r"\bsrc\s*[:=][^,;{}]{0,40}?[\"'`](?P<url>(?:https?:)?//[^\"'`\s]+)")
# Redoc's attribution ("API docs by Redocly") shows its logo from Redocly's CDN, even in an
# --inlineBundle page: the logo is drawn in the page instead (the same words, as inline SVG).
_ATTRIBUTION_LOGO = re.compile(r"https://cdn\.redoc\.ly/redoc/logo-mini(?:-full)?\.svg")
_INLINE_LOGO = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='64' height='16'%3E"
    "%3Ctext x='0' y='13' font-family='sans-serif' font-size='13' fill='%23888'%3ERedocly"
    "%3C/text%3E%3C/svg%3E"
)


class DocsFailed(RuntimeError):
    """Redocly failed, or the page would fetch something at view time."""


def external_fetches(html: str) -> list[str]:
    """URLs outside the page that a browser would load to show it (none for a self-contained page)."""
    found = [m.group("url") for m in _FETCHING_TAG.finditer(html)]
    found += [m.group("url") for m in _CSS_URL.finditer(html)]
    # A JS module importing from a URL, e.g. import { hydrate } from "https://cdn…/redoc.standalone.js"
    found += re.findall(r"\bimport\b[^;\"']*?[\"'](?P<url>(?:https?:)?//[^\"']+)[\"']", html)
    found += [m.group("url") for m in _SCRIPT_SRC.finditer(html)]
    return sorted(set(found))


def build(out: Path = OUT, contract: Path = CONTRACT) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    result = run_tool(
        [str(node_tool("redocly")), "build-docs", str(contract), "--inlineBundle", "--output", str(out)]
    )
    if result.returncode != 0 or not out.exists():
        raise DocsFailed(f"redocly build-docs exited {result.returncode}:\n{result.stdout}{result.stderr}")
    html = _ATTRIBUTION_LOGO.sub(_INLINE_LOGO, out.read_text(encoding="utf-8"))
    out.write_text(html, encoding="utf-8")
    fetches = external_fetches(html)
    if fetches:
        raise DocsFailed(f"{out} would fetch at view time: {', '.join(fetches)}")
    return out


def reference_page(out: Path | None = None) -> Path:
    """The reference page, built only when missing or older than what it is built from."""
    out = out or Path(os.environ.get(REFERENCE_PAGE_ENV) or OUT)
    if out.exists() and all(out.stat().st_mtime >= source.stat().st_mtime for source in REFERENCE_INPUTS):
        return out
    return build(out)


def site_fetches(site: Path) -> dict[str, list[str]]:
    """For each page or stylesheet of a built site that would fetch from elsewhere: what it fetches."""
    found: dict[str, list[str]] = {}
    for path in sorted([*site.rglob("*.html"), *site.rglob("*.css")]):
        fetches = external_fetches(path.read_text(encoding="utf-8", errors="replace"))
        if fetches:
            found[path.relative_to(site).as_posix()] = fetches
    return found


def build_guide(site: Path = SITE, reference: Path | None = None, config: Path = MKDOCS_CONFIG) -> Path:
    """The whole site into `site` (mkdocs build --strict), then checked for fetches from elsewhere."""
    env = {
        REFERENCE_PAGE_ENV: str(reference or OUT),
        # Material prints its end-of-life notice at every build; docs/about.md says when to move on.
        "NO_MKDOCS_2_WARNING": "1",
        "DISABLE_MKDOCS_2_WARNING": "true",
    }
    # Not --quiet: it drops warnings before strict mode counts them, and the build would pass.
    command = [str(VENV_BIN / "python"), "-m", "mkdocs", "build", "--strict", "--clean"]
    result = subprocess.run(  # noqa: S603 - the pinned generator with our own arguments
        [*command, "--config-file", str(config), "--site-dir", str(site)],
        cwd=ROOT,
        env={**tool_env(), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise DocsFailed(f"mkdocs build --strict exited {result.returncode}:\n{result.stdout}{result.stderr}")
    fetches = site_fetches(site)
    if fetches:
        listed = "; ".join(f"{page}: {', '.join(urls)}" for page, urls in fetches.items())
        raise DocsFailed(f"the site would fetch at view time: {listed}")
    return site


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--site", type=Path, default=SITE, help="where the guide is built (default: site/)")
    parser.add_argument("--reference", type=Path, default=OUT, help="where the reference page is built")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        page = build(args.reference)
        site = build_guide(args.site, page)
    except DocsFailed as error:
        print(f"docs: {error}", file=sys.stderr)
        return 1
    pages = sum(1 for _ in site.rglob("*.html"))
    size_kib, seconds = page.stat().st_size / 1024, time.perf_counter() - started
    print(f"docs: {_shown(page)} ({size_kib:.0f} KiB, self-contained)")
    print(f"docs: {_shown(site)}/ ({pages} pages, strict, nothing fetched from elsewhere) in {seconds:.1f} s")
    print(f"docs: open {_shown(site / 'index.html')}, or `make docs-serve` for search")
    return 0


if __name__ == "__main__":
    sys.exit(main())
