"""Open a built site in headless Chromium (Playwright for Python, Debian's chromium) and list what
a learner would see go wrong. Used by tests/test_site.py.

    with serve(Path("build/site")) as base:
        problems = check_site(base, screenshots=Path("build/site-screenshots"))

The browser runs with a fresh profile and no network: every request that is not to the local
server (or ``data:``/``blob:``) is aborted and reported.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urljoin

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--disable-gpu"]
LOCAL_SCHEMES = ("data:", "blob:", "about:")

# Runs in the page once it has loaded: waits for MathJax 2 to finish typesetting, then reports
# images that did not load and math that is not typeset.
_INSPECT = """async () => {
  if (window.MathJax && MathJax.Hub) { await new Promise(done => MathJax.Hub.Queue(done)); }
  const broken = [...document.images]
    .filter(img => !img.complete || img.naturalWidth === 0)
    .map(img => img.getAttribute("src"));
  const math = [...document.querySelectorAll(".math.notranslate")];
  const raw = math.filter(el => !el.querySelector(".MathJax, .MathJax_Display, .MathJax_SVG"))
    .map(el => el.textContent.trim().slice(0, 60));
  const errors = document.querySelectorAll(".merror, .MathJax_Error").length;
  const article = document.querySelector("article") || document.body;
  const text = article.innerText;
  const dollars = (text.match(/\\$\\$|\\\\\\(|\\\\\\[/g) || []).length;
  const cut = [...document.querySelectorAll("pre")]
    .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => pre.textContent.split("\\n").reduce((a, b) => a.length >= b.length ? a : b));
  const links = [...document.querySelectorAll("a[href]")].map(a => a.href);
  const nav = [...document.querySelectorAll("nav.bd-docs-nav a[href], .bd-sidebar a[href]")]
    .map(a => a.href);
  const launch = [...document.querySelectorAll(".dropdown-launch-buttons a[href]")]
    .map(a => a.href);
  return {broken, raw, errors, dollars, cut, links, nav, launch, maths: math.length};
}"""


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port); yields the base URL ending in ``/``."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _screenshot_name(url: str, base: str) -> str:
    rel = url[len(base):] or "index.html"
    return rel.replace("/", "__").removesuffix(".html") + ".png"


def check_site(base: str, start: str = "index.html", screenshots: Path | None = None,
               launch_prefixes: dict[str, str] | None = None) -> dict[str, object]:
    """Crawl the site from ``start`` through its links; return what was found.

    ``{"problems": {page: [text, ...]}, "visited": [page, ...], "nav": {page: {pages its
    navigation sidebar links to}}, "launch": {page: [launch-button hrefs]}}``. A page's
    problems: console errors, page errors, failed or non-2xx requests, requests leaving the
    local server, images that did not load, math not typeset, code lines cut off (a ``pre``
    wider than its box, at a 1280-pixel-wide window). ``launch_prefixes`` maps a notebook page
    (``notebooks/01_x.html``) to the start its Colab link must have; pages missing it or with a
    Binder link not naming the notebook are problems too.
    """
    from playwright.sync_api import sync_playwright

    problems: dict[str, list[str]] = {}
    visited: list[str] = []
    nav: dict[str, set[str]] = {}
    launch: dict[str, list[str]] = {}
    queue = [urljoin(base, start)]
    with tempfile.TemporaryDirectory(prefix="frontier-chromium-") as profile, \
            sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900})
        try:
            while queue:
                url = queue.pop(0)
                if url in visited:
                    continue
                visited.append(url)
                page_problems = problems.setdefault(url[len(base):] or start, [])
                found = _check_page(context, url, base, page_problems, screenshots)
                nav[url[len(base):] or start] = {urldefrag(n).url[len(base):]
                                                  for n in found["nav"] if n.startswith(base)}
                if found["launch"]:
                    launch[url[len(base):]] = found["launch"]
                for link in found["links"]:
                    link = urldefrag(link).url
                    if link.startswith(base) and link.endswith(".html") and link not in visited:
                        queue.append(link)
        finally:
            context.close()
    for page, prefix in (launch_prefixes or {}).items():
        hrefs = launch.get(page, [])
        stem = page.removeprefix("notebooks/").removesuffix(".html")
        if not any(h.startswith(prefix) for h in hrefs):
            problems.setdefault(page, []).append(f"no Colab launch button to {prefix} ({hrefs})")
        if not any("mybinder.org" in h and f"notebooks/{stem}.ipynb" in h for h in hrefs):
            problems.setdefault(page, []).append(f"no Binder launch button for {stem} ({hrefs})")
    return {"problems": {k: v for k, v in problems.items() if v},
            "visited": [v[len(base):] for v in visited],
            "nav": nav, "launch": launch}


def _check_page(context, url: str, base: str, problems: list[str],
                screenshots: Path | None) -> dict:
    page = context.new_page()

    def route(route) -> None:
        target = route.request.url
        if target.startswith(base) or target.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            problems.append(f"request leaves 127.0.0.1: {target}")
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("requestfailed", lambda req: None if not req.url.startswith(base) else
            problems.append(f"request failed: {req.url} ({req.failure})"))
    page.on("response", lambda res: problems.append(f"HTTP {res.status}: {res.url}")
            if res.status >= 400 else None)
    try:
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")
        found = page.evaluate(_INSPECT)
        problems += [f"image did not load: {src}" for src in found["broken"]]
        problems += [f"math not typeset: {text!r}" for text in found["raw"]]
        if found["errors"]:
            problems.append(f"{found['errors']} MathJax error(s)")
        problems += [f"code cut off at the content width: {line[:60]!r}..."
                     for line in found["cut"]]
        if found["dollars"]:
            problems.append(f"{found['dollars']} raw math delimiter(s) in the text")
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshots / _screenshot_name(url, base)), full_page=True)
        return found
    finally:
        page.close()
