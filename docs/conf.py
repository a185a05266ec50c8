"""Sphinx configuration for the xkmeans documentation.

``make docs`` builds it with ``-W`` (warnings are errors). The API reference
lists every name in ``xkmeans.__all__``: one page per public object is written
into ``gen_modules/`` when Sphinx reads this file, so names added to
``__all__`` appear without editing the docs.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
# The gallery runs examples in this process: no display, no GUI backend.
os.environ.setdefault("MPLBACKEND", "Agg")

import xkmeans

project = "xkmeans"
author = "the xkmeans developers"
copyright = "the xkmeans developers"
release = xkmeans.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "pydata_sphinx_theme"
html_title = f"xkmeans {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []

# The pages below are written by _write_api_pages(); autosummary only draws
# the tables, it does not generate stubs itself.
autosummary_generate = False
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
}
# The docs build must work offline (CI boxes, this repository's machines):
# intersphinx inventories are fetched only when asked for.
if os.environ.get("XKMEANS_DOCS_INTERSPHINX", "0") in ("", "0"):
    intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("xkmeans",),
    "reference_url": {"xkmeans": None},
    "remove_config_comments": True,
    # An example that raises (a failed accuracy assert, say) fails the build.
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
}

_KINDS = {"class": "Estimators", "function": "Functions", "exception": "Exceptions"}


def _kind(obj) -> str:
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return "exception"
    if inspect.isclass(obj):
        return "class"
    return "function"


def _write_api_pages() -> None:
    """One page per name in ``xkmeans.__all__`` plus the tables api.rst includes."""
    out = HERE / "gen_modules"
    out.mkdir(exist_ok=True)
    wanted = {f"xkmeans.{name}.rst" for name in xkmeans.__all__}
    for stale in out.glob("xkmeans.*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    groups: dict[str, list[str]] = {kind: [] for kind in _KINDS}
    for name in xkmeans.__all__:
        obj = getattr(xkmeans, name)
        kind = _kind(obj)
        groups[kind].append(name)
        directive = "autofunction" if kind == "function" else "autoclass"
        title = f"xkmeans.{name}"
        body = [title, "=" * len(title), "", ".. currentmodule:: xkmeans", "",
                f".. {directive}:: {name}", ""]
        if kind != "exception":
            body += [f".. minigallery:: xkmeans.{name}", "   :add-heading:", ""]
        _write_if_changed(out / f"xkmeans.{name}.rst", "\n".join(body))
    table = [".. currentmodule:: xkmeans", ""]
    for kind, names in groups.items():
        if not names:
            continue
        heading = _KINDS[kind]
        table += [heading, "-" * len(heading), "", ".. autosummary::", ""]
        table += [f"   {name}" for name in names]
        table += ["", ".. toctree::", "   :hidden:", ""]
        table += [f"   gen_modules/xkmeans.{name}" for name in names]
        table += [""]
    _write_if_changed(out / "api_tables.inc", "\n".join(table))


def _skip_sklearn_plumbing(app, what, name, obj, skip, options):
    """Leave out methods inherited from scikit-learn's metadata-routing and
    set_output machinery: their docstrings link into scikit-learn's own docs."""
    module = getattr(obj, "__module__", None) or ""
    if module.startswith(("sklearn.utils._metadata_requests", "sklearn.utils._set_output")):
        return True
    return skip


# In numpydoc type fields such as ``ndarray of shape (n_features_in_,)`` a
# word ending in "_" is reStructuredText for a link target; escape it.
_FIELD_LINE = re.compile(r"^\s*\w+ : ")
_TRAILING_UNDERSCORE = re.compile(r"(\w)_(?=[,)\]])")


def _escape_type_underscores(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if _FIELD_LINE.match(line):
            lines[i] = _TRAILING_UNDERSCORE.sub(r"\1\\_", line)


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_plumbing)
    # Before numpydoc (priority 500) turns the sections into markup.
    app.connect("autodoc-process-docstring", _escape_type_underscores, priority=400)


def _write_if_changed(path: Path, text: str) -> None:
    # Rewriting unchanged files would make every build re-read every page.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


_write_api_pages()
