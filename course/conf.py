"""Sphinx configuration for the course site (make site; frontier.site builds it offline into
build/site from the sources it generates in build/site-src)."""

from frontier.site import BRANCH, repository_url

project = "Frontier"
author = "The Frontier course authors"
copyright = "2026, The Frontier course authors"
extensions = ["myst_nb", "sphinxcontrib.bibtex"]
html_theme = "sphinx_book_theme"
html_title = "Frontier: a research curriculum in TensorFlow"
html_static_path = ["_static"]
html_css_files = ["frontier.css"]
html_theme_options = {
    # The repository URL has one home, CITATION.cff's `repository-code`. Notebooks sit at
    # notebooks/<name>.ipynb both in the site sources and in the repository, so the launch
    # buttons open the repository's notebooks (path_to_docs is the repository root).
    "repository_url": repository_url(),
    "repository_branch": BRANCH,
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"binderhub_url": "https://mybinder.org",
                       "colab_url": "https://colab.research.google.com",
                       "notebook_interface": "jupyterlab"},
}
# Notebooks are executed by `make lessons` (papermill); the site shows those outputs and never
# executes anything itself, so it builds offline and fast.
nb_execution_mode = "off"
# No widget manager from a CDN: the site is static and offline (widgets show their text form).
nb_ipywidgets_js = {}
html_context = {"default_mode": "light"}
myst_enable_extensions = ["dollarmath", "amsmath"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "conf.py", "_generated"]

# Offline math: MathJax 2 from the jupyter-server-mathjax package, copied to _static/mathjax by
# frontier.site (no CDN). MyST already finds the math, so MathJax only typesets Sphinx's math
# elements (class "math") and notebook outputs, never a stray `$` in text.
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                "processEscapes": False, "ignoreClass": "tex2jax_ignore|mathjax_ignore",
                "processClass": "tex2jax_process|mathjax_process|math|output_area"},
    # The package ships the HTML-CSS output with the STIX-Web fonts (woff) only: use them, and
    # not the browser's native MathML (which asks for MathJax's TeX fonts, not shipped).
    "MMLorHTML": {"prefer": "HTML"},
    # MathJax 2 probes web fonts with a url(about:blank) font, which today's Chromium logs as a
    # console error: probe with a local() name instead (it never loads either way).
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web",
                 "imageFont": None,
                 "styles": {"@font-face": {"font-family": "MathJax_Blank",
                                           "src": "local('MathJax_Blank')"}}},
    # The hidden MathML copy for screen readers would ask for the (unshipped) TeX fonts.
    "menuSettings": {"zoom": "None", "assistiveMML": False},
    "showMathMenu": False,
}
myst_update_mathjax = False  # MyST would write MathJax 3/4 options; this is MathJax 2

bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "alpha"

# Warnings are errors (-W). Third-party warnings that cannot be fixed in our sources:
suppress_warnings = [
    # MyST-NB has no renderer for the MIME type that frontier.report.record writes next to its
    # text line (application/vnd.frontier.result+json); the text line is shown instead.
    "mystnb.unknown_mime_type",
]
