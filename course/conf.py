"""Sphinx configuration for the course site (make site; built offline into build/site)."""

project = "Frontier"
author = "The Frontier course authors"
copyright = "2026, The Frontier course authors"
extensions = ["myst_nb"]
html_theme = "sphinx_book_theme"
html_title = "Frontier: a research curriculum in TensorFlow"
html_theme_options = {
    "repository_url": "https://github.com/frontier-course/frontier",
    "path_to_docs": "course",
    "use_repository_button": True,
    "launch_buttons": {"binderhub_url": "https://mybinder.org",
                       "colab_url": "https://colab.research.google.com"},
}
# Notebooks are executed by `make lessons` (papermill); the site shows those outputs and never
# executes anything itself, so it builds offline and fast.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "conf.py"]
suppress_warnings = ["mystnb.unknown_mime_type"]
