"""The course website (frontier.site): page sources, an offline build with warnings as errors,
and the built site read in headless Chromium (tests/_site_browser.py)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from _site_browser import CHROMIUM, check_site, serve

from frontier import lessons, site

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "site-screenshots"


def _notebook(*cells: dict) -> dict:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _md(text: str, **metadata) -> dict:
    return {"cell_type": "markdown", "id": "m", "metadata": metadata, "source": text}


def _code(text: str, tags: list[str], outputs: list | None = None) -> dict:
    return {"cell_type": "code", "id": "c", "metadata": {"tags": tags}, "source": text,
            "outputs": outputs or [], "execution_count": None}


def test_site_notebook_hides_injected_parameters_drops_badges_and_cites_keys():
    nb = _notebook(
        _md("# Title\n\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge"
            ".svg)](https://colab.example/x) [![Binder](https://mybinder.org/badge_logo.svg)]"
            "(https://mybinder.org/v2/x)\n\nBiT (`kolesnikov2020bit`) uses `tf.data`.\n"
            "[Exercises](../exercises/student/01_bit.ipynb), [lesson 02](02_galaxy.ipynb)\n"
            "![local figure](figure.png)"),
        _code('PROFILE = "quick"', ["parameters"]),
        _code('# Parameters\nPROFILE = "smoke"\n', ["injected-parameters"]))
    lesson = lessons.course_map()[1]
    out = site.site_notebook(nb, {"kolesnikov2020bit"}, lesson)
    title, paper_line, params, injected = out["cells"]
    assert "remove-cell" in injected["metadata"]["tags"]
    assert "remove-cell" not in params["metadata"]["tags"]
    assert "badge" not in title["source"] and "mybinder" not in title["source"]
    assert "{cite:p}`kolesnikov2020bit`" in title["source"]
    assert "`tf.data`" in title["source"], "a code literal that is no cite key stays code"
    assert "![local figure](figure.png)" in title["source"], "local images are kept"
    assert f"[Exercises]({site.repository_url()}/blob/main/exercises/student/01_bit.ipynb)" \
        in title["source"] and "[lesson 02](02_galaxy.ipynb)" in title["source"]
    assert "{cite:p}`kolesnikov2020bit`" in paper_line["source"]
    assert "../workloads/bigtransfer-bit.md" in paper_line["source"]
    assert nb["cells"][2]["metadata"]["tags"] == ["injected-parameters"], \
        "the executed notebook itself is not changed"
    assert "badge" in nb["cells"][0]["source"]


def test_workloads_group_lessons_in_course_order():
    groups = site.workloads()
    names = [g["name"] for g in groups]
    assert "Start here" not in names
    galaxy = next(g for g in groups if g["name"] == "Galaxy Zoo")
    assert [r["notebook"][:2] for r in galaxy["lessons"]] == ["02", "03"]
    with_paper = [stem for stem, _, _, paper in lessons.COURSE if paper]
    assert [r["notebook"] for g in groups for r in g["lessons"]] == with_paper
    assert len(set(g["slug"] for g in groups)) == len(groups)


def test_lesson_map_marks_coming_lessons(tmp_path):
    for stem in ("00_start_here", "01_bit_transfer"):
        (tmp_path / f"{stem}.ipynb").write_text("{}")
    table = site.lesson_map(tmp_path)
    assert f"2 of {len(lessons.COURSE)} lessons are ready" in table
    assert "[BigTransfer (BiT)](notebooks/01_bit_transfer.ipynb)" in table
    assert "Galaxy Zoo I *(coming)*" in table
    assert table.count("\n| ") == len(lessons.COURSE)  # one row per lesson


def test_workload_page_numbers_come_only_from_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(site, "output_dir", lambda profile: tmp_path)
    galaxy = next(g for g in site.workloads() if g["name"] == "Galaxy Zoo")
    page = site.workload_page(galaxy, "quick", [])
    assert "not run yet in the `quick` profile" in page
    record = {"output_type": "display_data", "metadata": {},
              "data": {"application/vnd.frontier.result+json":
                       {"name": "coverage_80", "value": 0.8123}, "text/plain": "x"}}
    nb = _notebook(_code("record(...)", [], [record]))
    (tmp_path / "02_galaxy_bayesian_cnn.ipynb").write_text(json.dumps(nb))
    (tmp_path / "03_galaxy_active_learning.ipynb").write_text(json.dumps(_notebook()))
    page = site.workload_page(galaxy, "quick", [])
    assert "`0.812` (quick)" in page
    assert "not recorded by the last `quick` run" in page  # 03 ran but recorded nothing
    assert "not run yet" not in page
    video = next(g for g in site.workloads() if g["name"] == "Video")
    page = site.workload_page(video, "quick", [])
    assert "has not been written yet" in page  # every video lesson is ready now


def test_workload_introductions_claim_results_their_lessons_record():
    groups = {g["slug"]: g for g in site.workloads()}
    intros = sorted((site.COURSE_DIR / "workloads").glob("*.md"))
    assert intros, "no workload introductions in course/workloads/"
    for intro in intros:
        assert intro.stem in groups, f"{intro.name} is no workload of COURSE: {sorted(groups)}"
        site.workload_page(groups[intro.stem], "quick", [])  # raises on a malformed claim
        meta, _ = site._front_matter(intro.read_text())
        for claim in meta["claims"]:
            source = (ROOT / "notebooks" / f"{claim['lesson']}.ipynb").read_text()
            name = claim["result"].split(".")[0]
            assert re.search(rf'record\(\\?"{name}\\?"', source), \
                f"{intro.name}: {claim['lesson']} never records {name!r}"


def test_a_claim_naming_another_workloads_lesson_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "workloads").mkdir()
    (tmp_path / "workloads" / "video.md").write_text(
        "---\nclaims:\n  - {lesson: 01_bit_transfer, result: x, claim: c, paper: p}\n---\nIntro\n")
    monkeypatch.setattr(site, "COURSE_DIR", tmp_path)
    video = next(g for g in site.workloads() if g["slug"] == "video")
    with pytest.raises(ValueError, match="01_bit_transfer"):
        site.workload_page(video, "quick", [])


def test_pick_and_format_values():
    results = {"ll_vs_cdl": {"ll_success": [0.5, 1.0], "runs": 4}, "n": 23500000}
    assert site.format_value(site.pick(results, "ll_vs_cdl.ll_success")) == "[0.5, 1]"
    assert site.format_value(results["n"]) == "23,500,000"
    with pytest.raises(KeyError, match="no 'cdl'"):
        site.pick(results, "ll_vs_cdl.cdl")
    assert site.format_seconds(75.4) == "1 min 15 s" and site.format_seconds(9) == "9 s"


def test_exercise_sets_are_read_from_the_notebooks():
    sets = site.exercise_sets()
    assert [s["name"] for s in sets] == sorted(p.stem for p in
                                               (ROOT / "exercises" / "student").glob("*.ipynb"))
    for s in sets:
        assert s["questions"] > 0 and s["points"] > 0, s
        assert s["summary"].endswith(".") and "grader.check" not in s["summary"], s
        assert "badge" not in s["summary"] and not s["title"].startswith("#")


def test_cite_page_renders_citation_cff():
    from pybtex.database import parse_string

    cff = site.citation()
    entry = parse_string(site.cff_bibtex(cff), "bibtex").entries
    (key, fields), = entry.items()
    assert fields.fields["title"] == cff["title"]
    assert fields.fields["url"] == cff["repository-code"] == site.repository_url()
    assert fields.fields["year"] == str(cff["date-released"])[:4]
    apa = site.cff_apa(cff)
    assert apa.startswith(f"{cff['authors'][0]['name']} ({str(cff['date-released'])[:4]}). *")
    assert "[Computer software]" in apa
    assert site.cff_apa({"title": "T", "date-released": "2020-01-01", "authors": [
        {"family-names": "Lovelace", "given-names": "Ada"},
        {"family-names": "Babbage", "given-names": "Charles"}]}).startswith(
        "Lovelace, A., & Babbage, C. (2020). *T*")


def _smoke_notebooks() -> None:
    """Executed smoke notebooks for the site: reuse those test_notebooks.py (or
    ``python -m frontier.lessons --profile smoke``) wrote when newer than their source."""
    out = lessons.output_dir("smoke")
    for path in lessons.discover():
        executed = out / path.name
        if not executed.exists() or executed.stat().st_mtime < path.stat().st_mtime:
            lessons.execute(path, executed, "smoke", timeout=600)


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """The site built from smoke-executed notebooks with every non-loopback connection refused."""
    _smoke_notebooks()
    real_connect = socket.socket.connect

    def loopback_only(sock, address):
        host = address[0] if isinstance(address, tuple) else ""
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in (
                "127.0.0.1", "::1", "localhost"):
            raise OSError(f"the site build tried to reach the network: {address}")
        return real_connect(sock, address)

    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", loopback_only)
    try:
        out = site.build("smoke", tmp_path_factory.mktemp("site") / "html")
    finally:
        mp.undo()
    return out


def test_site_sources_are_generated_from_the_course(built_site):
    index = (built_site / "index.html").read_text()
    for stem, workload, *_ in lessons.COURSE:
        assert workload in index, f"{stem} missing from the lesson map"
    for path in lessons.discover():
        assert (built_site / "notebooks" / f"{path.stem}.html").exists()
    for workload in site.workloads():
        assert (built_site / "workloads" / f"{workload['slug']}.html").exists()
    refs = (built_site / "references.html").read_text().lower()
    assert "big transfer (bit)" in refs and "layerwise learning" in refs
    lesson = (built_site / "notebooks" / "01_bit_transfer.html").read_text()
    assert "colab-badge.svg" not in lesson and "# Parameters" not in lesson
    assert 'href="../references.html#' in lesson, "paper keys link to the bibliography"
    download = json.loads((built_site / "_sources" / "notebooks" / "01_bit_transfer.ipynb")
                          .read_text())
    assert download == json.loads(site.shown_notebooks("smoke")[1].read_text()), \
        "the download button serves the executed notebook, not the site's copy"
    guide = (built_site / "instructors.html").read_text()
    assert "grades.csv" in guide and "Gradescope" in guide
    assert "For learners" not in guide, "the guide includes the instructors' sections only"
    cite = re.sub(r"<[^>]+>", "", (built_site / "cite.html").read_text())
    assert "@software{frontier" in cite and "[Computer software]" in cite


@pytest.mark.timeout(600)
def test_site_reads_well_in_a_browser(built_site):
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium when run "
                    "as root (apt-get install chromium); Playwright's own download needs the "
                    "network")
    prefix = site.repository_url().split("github.com/", 1)[-1]
    launch = {f"notebooks/{p.stem}.html": f"https://colab.research.google.com/github/{prefix}"
              f"/blob/{site.BRANCH}/notebooks/{p.stem}.ipynb" for p in lessons.discover()}
    with serve(built_site) as base:
        found = check_site(base, screenshots=SCREENSHOTS, launch_prefixes=launch)
    assert found["problems"] == {}
    pages = {str(p.relative_to(built_site)) for p in built_site.rglob("*.html")
             if not str(p.relative_to(built_site)).startswith("_")}  # not theme templates
    pages -= {"search.html", "genindex.html"}  # Sphinx's own; the theme searches in a pop-up
    assert pages - set(found["visited"]) == set(), "pages no link reaches"
    assert set(launch) <= found["nav"]["index.html"], "every lesson is in the index's navigation"
    assert (SCREENSHOTS / "index.png").stat().st_size > 10_000


@pytest.mark.timeout(120)
def test_browser_check_fails_on_remote_script_and_broken_image(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (see test_site_reads_well_in_a_browser)")
    (tmp_path / "index.html").write_text(
        "<html><body><p>start</p><a href='bad.html'>next</a></body></html>")
    (tmp_path / "bad.html").write_text(
        "<html><head><script src='https://cdn.example.org/lib.js'></script></head><body>"
        "<span class='math notranslate'>\\(x^2\\)</span><img src='missing.png' alt='gone'>"
        "<pre style='width: 200px; overflow: auto'>" + "x = 1  # " + "long " * 40 + "</pre>"
        "<script>console.error('boom')</script></body></html>")
    with serve(tmp_path) as base:
        found = check_site(base)
    problems = found["problems"]
    assert set(problems) == {"bad.html"}, problems
    text = "\n".join(problems["bad.html"])
    assert "request leaves 127.0.0.1: https://cdn.example.org/lib.js" in text
    assert "image did not load: missing.png" in text
    assert "HTTP 404" in text and "console error: boom" in text
    assert "math not typeset" in text
    assert "code cut off at the content width: 'x = 1  # long" in text


def test_lesson_times_read_the_wall_time_that_make_lessons_records(tmp_path, monkeypatch):
    """The lesson map quotes the wall time frontier.lessons.run writes (``wall_seconds``)."""
    monkeypatch.setattr(site, "output_dir", lambda profile: tmp_path)
    rows = [{"lesson": "01_bit_transfer", "status": "ok", "wall_seconds": 75.3,
             "cpu_seconds": 140.0},
            {"lesson": "02_galaxy_bayesian_cnn", "status": "FAILED", "wall_seconds": 3.0},
            {"lesson": "07_qnn_layerwise", "status": "ok", "seconds": 12.0}]  # older summary
    (tmp_path / "summary.json").write_text(json.dumps(rows))
    assert site.lesson_times("quick") == {"01_bit_transfer": 75.3, "07_qnn_layerwise": 12.0}
    assert site.format_seconds(75.3) == "1 min 15 s"
