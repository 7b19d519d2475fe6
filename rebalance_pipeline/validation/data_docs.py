"""GX data docs that open offline: the built pages load local copies of what they need.

GX's page templates load Bootstrap, jQuery, Font Awesome and bootstrap-table from public
CDNs, so a page opened without network access is unstyled and without its icons. After
each build, every page's references to those CDNs point at the copies in
``data_docs_assets/`` (copied to the site's ``static/vendor/``). The vega scripts (charts
of profiling results, which these suites never render) and the optional dark theme are
dropped. The GX logo, which the navbar loads from GX's web-assets bucket with the build
time in its query string, comes from the site's own ``static/images``: pages need no
network and a rebuild of a date writes the same bytes.

The Dagster UI links a date's data docs over HTTP (``docs_url``): browsers do not open a
``file://`` link from an ``http://`` page. ``make dagster-dev`` serves the home's
``data_docs/`` there (``docs_app``) beside the UI.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from rebalance_pipeline.storage import atomic_write_bytes

if TYPE_CHECKING:
    from starlette.applications import Starlette

DOCS_URL_ENV = "REBALANCE_DATA_DOCS_URL"  # where the data docs are served
DOCS_PORT = 3001

ASSETS = Path(__file__).parent / "data_docs_assets"
VENDOR = "vendor"  # under the site's static/
BOOTSTRAP_TABLE = "https://unpkg.com/bootstrap-table@1.19.1/dist"
FILTER_CONTROL = "extensions/filter-control/bootstrap-table-filter-control"
DATEPICKER = "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0"
# CDN address in GX's templates -> the local copy under data_docs_assets/
VENDORED = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap-4.3.1.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap-4.3.1.min.js"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper-1.12.9.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "fontawesome-6.6.0/css/all.min.css"
    ),
    f"{BOOTSTRAP_TABLE}/bootstrap-table.min.css": "bootstrap-table-1.19.1.min.css",
    f"{BOOTSTRAP_TABLE}/bootstrap-table.min.js": "bootstrap-table-1.19.1.min.js",
    f"{BOOTSTRAP_TABLE}/{FILTER_CONTROL}.min.js": "bootstrap-table-filter-control-1.19.1.min.js",
    # the pages ask for the 1.19.0 sheet of the extension beside the 1.19.1 table
    f"https://unpkg.com/bootstrap-table@1.19.0/dist/{FILTER_CONTROL}.css": (
        "bootstrap-table-filter-control-1.19.1.min.css"
    ),
    f"https://unpkg.com/bootstrap-table@1.19.0/dist/{FILTER_CONTROL}.min.css": (
        "bootstrap-table-filter-control-1.19.1.min.css"
    ),
    f"{DATEPICKER}/css/bootstrap-datepicker.min.css": "bootstrap-datepicker-1.9.0.min.css",
    f"{DATEPICKER}/js/bootstrap-datepicker.min.js": "bootstrap-datepicker-1.9.0.min.js",
}
DROPPED = frozenset(
    {
        "https://cdn.jsdelivr.net/npm/vega@5",
        "https://cdn.jsdelivr.net/npm/vega-lite@5",
        "https://cdn.jsdelivr.net/npm/vega-embed@6",
        "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
    }
)
# a whole <script ...></script> or <link ...> tag loading from http(s)
LOADING_TAG = re.compile(
    r'<(?P<tag>script|link)\b[^>]*?\b(?:src|href)="(?P<url>https?://[^"]+)"[^>]*>(?:</script>)?'
)
LOGO = re.compile(r'https://great-expectations-web-assets\.[^"/]+/logo-long\.png[^"]*')
# a relative reference into the site's static/ folder; GX counts the ``../`` by a fixed
# depth per page type, one short for the pages of a dotted suite name (custodian_files.C1)
STATIC_REFERENCE = re.compile(r'\b(?P<attribute>src|href)="(?:\./|(?:\.\./)+)static/')


def make_offline(site: Path) -> None:
    """Point every page of the built site at local copies (see the module docstring)."""
    static = site / "static"
    shutil.copytree(ASSETS, static / VENDOR, dirs_exist_ok=True)
    for page in sorted(site.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        offline = _offline_page(html, Path(os.path.relpath(static, page.parent)).as_posix())
        if offline != html:
            atomic_write_bytes(page, offline.encode("utf-8"))


def _offline_page(html: str, to_static: str) -> str:
    """``html`` loading only local files, ``to_static`` being the page's way to static/."""
    html = STATIC_REFERENCE.sub(rf'\g<attribute>="{to_static}/', html)
    html = LOADING_TAG.sub(lambda match: _local_tag(match, to_static), html)
    return LOGO.sub(f"{to_static}/images/logo-long.png", html)


def _local_tag(match: re.Match[str], to_static: str) -> str:
    """The tag loading the local copy; nothing for a dropped one; an unknown address is
    kept (the data docs tests name it)."""
    url = match["url"]
    if url in DROPPED:
        return ""
    if url not in VENDORED:
        return match[0]
    local = f"{to_static}/{VENDOR}/{VENDORED[url]}"
    if match["tag"] == "script":
        return f'<script src="{local}"></script>'
    return f'<link rel="stylesheet" href="{local}">'


def docs_url(day: dt.date) -> str:
    """The address of the date's data docs index as ``make dagster-dev`` serves it."""
    base = os.environ.get(DOCS_URL_ENV) or f"http://127.0.0.1:{DOCS_PORT}"
    return f"{base.rstrip('/')}/{day.isoformat()}/index.html"


def docs_app(folder: Path) -> Starlette:
    """The files under ``folder`` (the home's data_docs/), read-only; Starlette's static
    files serve nothing outside it."""
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    folder.mkdir(parents=True, exist_ok=True)
    return Starlette(routes=[Mount("/", app=StaticFiles(directory=folder, html=True))])
