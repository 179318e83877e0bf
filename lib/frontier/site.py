"""The course website (``make site``): Sphinx + MyST-NB + sphinx-book-theme, built offline.

    python -m frontier.site                  # build/site from build/notebooks/ (quick profile)
    python -m frontier.site --profile smoke  # show the smoke-executed notebooks instead

The hand-written sources live in ``course/``; this module generates the rest into
``build/site-src`` and runs Sphinx (warnings are errors) into ``build/site``:

- the lesson map on the index, from :data:`frontier.lessons.COURSE` with each lesson's measured
  time per profile (``summary.json`` of the last ``make lessons`` run of that profile);
- one page per workload (lessons grouped by workload, ``Galaxy Zoo I`` and ``II`` together), with
  the introduction from ``course/workloads/<slug>.md`` and its claims next to the numbers the
  executed notebooks recorded (read with :func:`frontier.report.read`, never typed in);
- the executed notebooks, as learners read them: papermill's injected-parameters cell hidden,
  remote badge images dropped (the theme's launch buttons replace them), paper keys written as
  code literals turned into citations, and a line linking the lesson's paper and workload page;
- the exercise sets (from ``exercises/``) and "Cite this course" (from ``CITATION.cff``).

Nothing executes during the build; math is typeset by a local MathJax copy (the
``jupyter-server-mathjax`` package), so the site needs no network to build or to read.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from frontier.lessons import course_map, discover, output_dir
from frontier.profiles import DEFAULT_PROFILE, PROFILES

ROOT = Path(__file__).resolve().parents[2]
COURSE_DIR = ROOT / "course"
SOURCE = ROOT / "build" / "site-src"
OUT = ROOT / "build" / "site"
BRANCH = "main"

#: A markdown image whose source is remote, optionally wrapped in a link (a badge).
_REMOTE_IMAGE = re.compile(r"\[?!\[[^\]]*\]\(\s*(?:https?:)?//[^)]*\)(?:\]\([^)]*\))?")
_CODE_LITERAL = re.compile(r"`([A-Za-z][\w-]*)`")
#: A markdown link from a notebook to a repository file outside notebooks/ (``](../x)``).
_UP_LINK = re.compile(r"\]\(\.\./([^)\s]+)\)")
_ROMAN = re.compile(r"\s+(?:I|II|III|IV|V)$")


# -- one place for the repository --------------------------------------------------------------

def citation(path: Path = ROOT / "CITATION.cff") -> dict[str, Any]:
    """``CITATION.cff`` as a dict (the course's title, authors, version and repository)."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "repository-code" not in data:
        raise ValueError(f"{path} has no `repository-code:` (the course repository's URL); "
                         "add it: the site's launch buttons and links are built from it")
    return data


def repository_url() -> str:
    """The course repository (``repository-code`` in ``CITATION.cff``, the one place it is set)."""
    return str(citation()["repository-code"]).rstrip("/")


def repo_link(path: str) -> str:
    """A link to ``path`` (relative to the repository root) on the repository's main branch."""
    return f"{repository_url()}/blob/{BRANCH}/{path}"


# -- the course's structure --------------------------------------------------------------------

def workload_family(workload: str) -> str:
    """``Galaxy Zoo II`` -> ``Galaxy Zoo``: the lessons of one workload share a page."""
    return _ROMAN.sub("", workload)


def slug(name: str) -> str:
    """``BigTransfer (BiT)`` -> ``bigtransfer-bit`` (a workload page's file name)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def workloads(notebooks: Path = ROOT / "notebooks") -> list[dict[str, Any]]:
    """The workloads in course order, each ``{"name", "slug", "lessons": [course_map rows]}``.

    Lessons without a paper (*Start here*) belong to no workload.
    """
    groups: dict[str, dict[str, Any]] = {}
    for row in course_map(notebooks):
        if not row["paper"]:
            continue
        name = workload_family(row["workload"])
        groups.setdefault(name, {"name": name, "slug": slug(name), "lessons": []})
        groups[name]["lessons"].append(row)
    return list(groups.values())


def lesson_times(profile: str) -> dict[str, float]:
    """Wall seconds each lesson took in the last ``make lessons`` run of ``profile`` (ok runs
    only; summaries written before lessons recorded CPU time call it ``seconds``)."""
    summary = output_dir(profile) / "summary.json"
    if not summary.exists():
        return {}
    rows = json.loads(summary.read_text(encoding="utf-8"))
    return {row["lesson"]: float(row.get("wall_seconds", row.get("seconds")))
            for row in rows if row.get("status") == "ok"}


def exercise_sets(folder: Path = ROOT / "exercises") -> list[dict[str, Any]]:
    """Each exercise set: ``{"name", "lesson" (two digits), "title", "summary", "points",
    "questions"}``, read from the student notebook (title; summary: the first sentence after
    the badges) and the source (points)."""
    sets = []
    for student in sorted((folder / "student").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(student.read_text(encoding="utf-8"))["cells"]
        text = "".join(cells[0]["source"]) if cells else ""
        title = text.splitlines()[0].lstrip("# ").strip() if text else student.stem
        paragraphs = [p for p in _drop_remote_images(text).split("\n\n")[1:] if p.strip()]
        points = []
        source = folder / "source" / student.name
        if source.exists():
            for cell in json.loads(source.read_text(encoding="utf-8"))["cells"]:
                raw = "".join(cell["source"])
                if cell["cell_type"] == "raw" and raw.startswith("# BEGIN QUESTION"):
                    found = re.search(r"^points:\s*([\d.]+)", raw, re.M)
                    points.append(float(found.group(1)) if found else 0.0)
        first = " ".join(paragraphs[0].split()) if paragraphs else ""
        sets.append({"name": student.stem, "lesson": student.name[:2], "title": title,
                     "summary": re.split(r"(?<=\.)(?<!\bal\.)\s+(?=[A-Z])", first, maxsplit=1)[0],
                     "points": sum(points), "questions": len(points)})
    return sets


# -- numbers, only from runs -------------------------------------------------------------------

def format_seconds(seconds: float) -> str:
    """``75.3`` -> ``1 min 15 s``; under a minute in seconds, over an hour in h and min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def format_value(value: Any) -> str:
    """A recorded value as short text: 3 significant digits, lists and dicts spelled out."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        shown = [format_value(v) for v in value[:12]]
        return "[" + ", ".join(shown) + (", ..." if len(value) > 12 else "") + "]"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in value.items())
    return str(value)


def pick(results: dict[str, Any], path: str) -> Any:
    """``pick(results, "ll_vs_cdl.ll_success")``: a recorded value, or a part of a dict one.

    Raises ``KeyError`` naming the missing part.
    """
    name, *keys = path.split(".")
    value = results[name]
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise KeyError(f"recorded {name!r} has no {key!r} (path {path!r})")
        value = value[key]
    return value


# -- page sources ------------------------------------------------------------------------------

def _drop_remote_images(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", _REMOTE_IMAGE.sub("", text)).strip("\n") + "\n"


def _cite_keys(text: str, keys: set[str]) -> str:
    return _CODE_LITERAL.sub(lambda m: f"{{cite:p}}`{m.group(1)}`" if m.group(1) in keys
                             else m.group(0), text)


def bib_keys(path: Path = COURSE_DIR / "references.bib") -> set[str]:
    """The cite keys in ``course/references.bib``."""
    return set(re.findall(r"^@\w+\{([^,\s]+),", path.read_text(encoding="utf-8"), re.M))


def site_notebook(nb: dict[str, Any], keys: set[str], lesson: dict[str, str]) -> dict[str, Any]:
    """The copy of an executed notebook that the site shows (the input is not changed).

    Papermill's injected-parameters cell gets MyST-NB's ``remove-cell`` tag; remote images
    (the Colab/Binder badges) are dropped from markdown; code-literal cite keys in markdown become
    ``{cite:p}`` citations; links to repository files outside ``notebooks/`` (``../exercises/``)
    point at the repository (the site has no such page); after the title cell a line links the
    paper and the workload page.
    """
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            text = _UP_LINK.sub(lambda m: f"]({repo_link(m.group(1))})", text)
            cell["source"] = _cite_keys(_drop_remote_images(text), keys)
    if lesson["paper"]:
        family = workload_family(lesson["workload"])
        line = (f"**Paper:** {{cite:p}}`{lesson['paper']}` · **Workload:** "
                f"[{family}](../workloads/{slug(family)}.md) · **Source:** "
                f"[`notebooks/{lesson['notebook']}.ipynb`]"
                f"({repo_link('notebooks/' + lesson['notebook'] + '.ipynb')})")
        at = 1 if nb["cells"] and nb["cells"][0]["cell_type"] == "markdown" else 0
        nb["cells"].insert(at, {"cell_type": "markdown", "metadata": {}, "source": line})
    for cell in nb["cells"]:
        cell.pop("id", None)  # ids must be unique; the inserted cell has none, so drop them all
    nb["nbformat_minor"] = min(nb.get("nbformat_minor", 4), 4)
    return nb


def lesson_map(notebooks: Path = ROOT / "notebooks") -> str:
    """The index's lesson table (markdown), one row per entry of ``COURSE``, then the workload
    pages."""
    times = {profile: lesson_times(profile) for profile in PROFILES}
    head = ("| # | lesson | what it teaches | paper | "
            + " | ".join(f"`{p}`" for p in PROFILES) + " |")
    lines = [head, "|" + "---|" * (4 + len(PROFILES))]
    rows = course_map(notebooks)
    for row in rows:
        stem = row["notebook"]
        name = (f"[{row['workload']}](notebooks/{stem}.ipynb)" if row["status"] == "ready"
                else f"{row['workload']} *(coming)*")
        paper = f"{{cite:p}}`{row['paper']}`" if row["paper"] else ""
        cells = [format_seconds(times[p][stem]) if stem in times[p] else "-" for p in PROFILES]
        lines.append(f"| {stem[:2]} | {name} | {row['topics']} | {paper} | "
                     + " | ".join(cells) + " |")
    ready = sum(row["status"] == "ready" for row in rows)
    pages = " · ".join(f"[{w['name']}](workloads/{w['slug']}.md)" for w in workloads(notebooks))
    lines += ["", f"{ready} of {len(rows)} lessons are ready"
              + ("; the others are being written. " if ready < len(rows) else ". ") +
              "Times are the wall-clock time of each lesson's last run in that profile on the "
              "machine that built this site (`make lessons` records them in `summary.json`); "
              "\"-\" means no run of that profile was recorded there.", "",
              f"Workload pages: {pages}."]
    return "\n".join(lines) + "\n"


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    import yaml

    if not text.startswith("---\n"):
        return {}, text
    head, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(head) or {}, body


def workload_page(workload: dict[str, Any], profile: str, sets: list[dict[str, Any]]) -> str:
    """A workload's page: introduction, lessons, claims with the last run's numbers, exercises.

    The introduction and the claims come from ``course/workloads/<slug>.md`` (front matter
    ``claims:``, each with ``lesson``, ``result`` (a recorded name, ``name.key`` for part of a
    dict), ``claim`` and ``paper``); a workload without that file says it is not written yet.
    """
    intro_file = COURSE_DIR / "workloads" / f"{workload['slug']}.md"
    meta, intro = _front_matter(intro_file.read_text(encoding="utf-8")) \
        if intro_file.exists() else ({}, "")
    lines = [f"# {workload['name']}", ""]
    ready = any(row["status"] == "ready" for row in workload["lessons"])
    lines.append(intro.strip() if intro.strip() else
                 "The introduction to this workload's paper has not been written yet; the "
                 "lessons below teach it." if ready else
                 "This workload's lessons are being written; this page will introduce the paper "
                 "when the first of them is ready.")
    lines += ["", "## Lessons", "", "| # | lesson | what it teaches | paper | status |",
              "|---|---|---|---|---|"]
    for row in workload["lessons"]:
        name = (f"[{row['workload']}](../notebooks/{row['notebook']}.ipynb)"
                if row["status"] == "ready" else row["workload"])
        lines.append(f"| {row['notebook'][:2]} | {name} | {row['topics']} | "
                     f"{{cite:p}}`{row['paper']}` | {row['status']} |")
    lines += ["", "## The claim and what the last run recorded", ""]
    claims = meta.get("claims", [])
    if claims:
        lines += [f"Numbers from the notebooks executed in the `{profile}` profile, read from "
                  "what each run recorded (`frontier.report`); a claim whose lesson has not run "
                  "says so.", "", "| lesson | claim | the paper | last run |", "|---|---|---|---|"]
        for claim in claims:
            missing = {"lesson", "result", "claim", "paper"} - set(claim)
            if missing or claim["lesson"] not in {r["notebook"] for r in workload["lessons"]}:
                raise ValueError(f"{intro_file}: claim {claim} needs lesson, result, claim and "
                                 f"paper, with lesson one of this workload's notebooks "
                                 f"({[r['notebook'] for r in workload['lessons']]})")
            lines.append(f"| {claim['lesson'][:2]} | {claim['claim']} | {claim['paper']} | "
                         f"{recorded(claim['lesson'], claim['result'], profile)} |")
    else:
        lines.append("No claim of the paper has been set against this workload's lessons yet, "
                     "so there is no number to show.")
    lessons = {row["notebook"][:2] for row in workload["lessons"]}
    mine = [s for s in sets if s["lesson"] in lessons]
    lines += ["", "## Exercises", ""]
    lines += [f"- [{s['title']}]({repo_link('exercises/student/' + s['name'] + '.ipynb')}) "
              f"({s['questions']} questions, {s['points']:g} points): {s['summary']}"
              for s in mine] or ["No exercise set for this workload yet."]
    lines += ["", "How the sets check themselves: [Exercises](../exercises.md)."]
    return "\n".join(lines) + "\n"


def recorded(lesson: str, result: str, profile: str) -> str:
    """The value ``lesson``'s executed notebook recorded as ``result``, as text for a page."""
    from frontier import report

    executed = output_dir(profile) / f"{lesson}.ipynb"
    if not executed.exists():
        return f"not run yet in the `{profile}` profile"
    try:
        return f"`{format_value(pick(report.read(executed), result))}` ({profile})"
    except KeyError:
        return f"not recorded by the last `{profile}` run"


def exercises_table(sets: list[dict[str, Any]]) -> str:
    """The exercise sets as a markdown table (for the exercises page)."""
    lines = ["| set | lesson | questions | points | what it asks |", "|---|---|---|---|---|"]
    for s in sets:
        link = f"[`{s['name']}`]({repo_link('exercises/student/' + s['name'] + '.ipynb')})"
        lines.append(f"| {link} | {s['lesson']} | {s['questions']} | {s['points']:g} | "
                     f"{s['summary']} |")
    return "\n".join(lines) + "\n"


def cff_bibtex(cff: dict[str, Any]) -> str:
    """The course as a BibTeX ``@software`` entry (from ``CITATION.cff``)."""
    authors = " and ".join(_cff_name(a, bibtex=True) for a in cff.get("authors", []))
    year = str(cff.get("date-released", ""))[:4]
    fields = [("author", authors), ("title", cff["title"]), ("version", cff.get("version")),
              ("year", year), ("url", cff.get("repository-code")), ("license", cff.get("license"))]
    body = ",\n".join(f"  {k:<8}= {{{v}}}" for k, v in fields if v)
    return f"@software{{frontier{year},\n{body}\n}}\n"


def cff_apa(cff: dict[str, Any]) -> str:
    """The course in APA style (from ``CITATION.cff``), as markdown."""
    names = [_cff_name(a) for a in cff.get("authors", [])]
    authors = names[0] if len(names) == 1 else ", ".join(names[:-1]) + ", & " + names[-1]
    year = str(cff.get("date-released", "n.d."))[:4]
    version = f" (Version {cff['version']})" if cff.get("version") else ""
    return (f"{authors} ({year}). *{cff['title']}*{version} [Computer software]. "
            f"{cff.get('repository-code', '')}\n")


def _cff_name(author: dict[str, Any], bibtex: bool = False) -> str:
    if "name" in author:
        return "{" + author["name"] + "}" if bibtex else author["name"]
    family, given = author.get("family-names", ""), author.get("given-names", "")
    if bibtex:
        return f"{family}, {given}".strip(", ")
    initials = " ".join(part[0] + "." for part in given.split())
    return f"{family}, {initials}".strip(", ")


def cite_page(cff: dict[str, Any]) -> str:
    """"Cite this course": the BibTeX and APA forms of ``CITATION.cff``."""
    return "\n".join([
        "# Cite this course", "", cff.get("message", ""), "",
        "## BibTeX", "", "```bibtex", cff_bibtex(cff).rstrip(), "```", "",
        "## APA", "", cff_apa(cff).rstrip(), "",
        f"Both are rendered from [`CITATION.cff`]({repo_link('CITATION.cff')}) (GitHub's "
        "\"Cite this repository\" reads the same file). Cite the papers each lesson builds on "
        "too: they are in the [bibliography](references.md).", ""])


# -- the build ---------------------------------------------------------------------------------

def mathjax_dir() -> Path:
    """MathJax 2's static files, shipped by the ``jupyter-server-mathjax`` package."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise SystemExit("the site's offline math needs the jupyter-server-mathjax package: "
                         "run `make install`") from None
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def launch_links(notebook: str = "notebooks/00_start_here.ipynb") -> str:
    """Binder and Colab links that open ``notebook`` from the course repository (markdown)."""
    repo = repository_url()
    org_repo = repo.split("github.com/", 1)[-1]
    return (f"Or start now without installing anything: open *Start here* on "
            f"[Binder](https://mybinder.org/v2/gh/{org_repo}/{BRANCH}?labpath={notebook}) or "
            f"[Colab](https://colab.research.google.com/github/{org_repo}/blob/{BRANCH}/"
            f"{notebook}).\n")


def toctree(notebooks: Path = ROOT / "notebooks") -> str:
    """The navigation, in course order: workload pages, lesson notebooks, course pages."""
    def tree(caption: str, entries: list[str]) -> str:
        return "\n".join(["```{toctree}", f":caption: {caption}", ":maxdepth: 1", "",
                          *entries, "```", ""])

    return "\n".join([
        tree("Workloads", [f"workloads/{w['slug']}" for w in workloads(notebooks)]),
        tree("Lessons", [f"notebooks/{p.stem}" for p in discover(notebooks)]),
        tree("Course", ["exercises", "instructors", "references", "cite"])])


def prepare(profile: str = DEFAULT_PROFILE, notebooks: Path = ROOT / "notebooks") -> Path:
    """Write the site's sources into ``build/site-src``: ``course/``, generated pages, notebooks.

    The exercises pages include ``exercises/README.md`` by a path relative to
    ``build/site-src``, so the sources are always written there.
    """
    src = SOURCE
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(COURSE_DIR, src, ignore=shutil.ignore_patterns("workloads"))
    shutil.copytree(mathjax_dir(), src / "_static" / "mathjax",
                    ignore=shutil.ignore_patterns("localization"))
    sets = exercise_sets()
    (src / "_generated").mkdir()
    (src / "_generated" / "lesson_map.md").write_text(lesson_map(notebooks))
    (src / "_generated" / "exercise_sets.md").write_text(exercises_table(sets))
    (src / "_generated" / "launch.md").write_text(launch_links())
    (src / "_generated" / "toctree.md").write_text(toctree(notebooks))
    (src / "cite.md").write_text(cite_page(citation()))
    (src / "workloads").mkdir()
    for workload in workloads(notebooks):
        (src / "workloads" / f"{workload['slug']}.md").write_text(
            workload_page(workload, profile, sets))
    keys = bib_keys()
    lessons = {row["notebook"]: row for row in course_map(notebooks)}
    (src / "notebooks").mkdir()
    for path in shown_notebooks(profile, notebooks):
        nb = json.loads(path.read_text(encoding="utf-8"))
        (src / "notebooks" / path.name).write_text(
            json.dumps(site_notebook(nb, keys, lessons[path.stem]), indent=1))
    return src


def shown_notebooks(profile: str, notebooks: Path = ROOT / "notebooks") -> list[Path]:
    """The notebook each lesson page shows: executed in ``profile`` if it was, else committed."""
    executed = output_dir(profile)
    return [executed / p.name if (executed / p.name).exists() else p for p in discover(notebooks)]


def build(profile: str = DEFAULT_PROFILE, out: Path = OUT) -> Path:
    """Build the site into ``out`` from the notebooks executed in ``profile`` (warnings are
    errors). Lessons not executed yet are shown as committed, without outputs."""
    from sphinx.cmd.build import build_main

    src = prepare(profile)
    code = build_main(["-q", "-W", "--keep-going", "-E", "-b", "html", str(src), str(out)])
    if code:
        raise RuntimeError(f"sphinx-build failed with status {code} (warnings are errors); "
                           "see the messages above")
    # The page's download button serves _sources/: give learners the notebook itself, not the
    # site's copy (whose markdown holds MyST citation roles).
    for path in shown_notebooks(profile):
        shutil.copy(path, out / "_sources" / "notebooks" / path.name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m frontier.site", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default=DEFAULT_PROFILE, choices=PROFILES,
                        help="show the notebooks executed in this profile (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    print(f"site: {build(args.profile, args.out) / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
