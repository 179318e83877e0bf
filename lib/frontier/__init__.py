"""frontier: the helper library of the Frontier course.

Lessons (the notebooks in ``notebooks/``) tell; this package does. One module per workload,
named after it: ``bit``, ``galaxy``, ``video``, ``esrgan``, ``quantum`` and ``tinyml``
(``frontier.lessons.COURSE`` is the lesson map). Shared modules:
``profiles`` (smoke / quick / full sizes), ``report`` (recorded results), ``data`` (downloads,
the registry, embedded and simulated data), ``train`` (a strategy-aware training loop),
``environment`` (version guard and environment report), ``lessons`` (runs the notebooks,
``make lessons``), ``site`` (the course website, ``make site``) ``exercises`` (otter-grader
exercise sets and grading) and ``sandbox`` (the bubblewrap sandbox the grader runs each
submission in).

Importing ``frontier`` is cheap: TensorFlow is imported by the modules that need it.
"""

from frontier.environment import check_environment
from frontier.profiles import PROFILES, profile

__version__ = "0.1.0"
__all__ = ["PROFILES", "check_environment", "profile", "__version__"]
