"""Run scikit-learn's own ``test_k_means.py`` with xkmeans's estimators swapped in.

Copies the installed scikit-learn's ``sklearn/cluster/tests/test_k_means.py``
(or the file given with ``--file``) to a temporary directory, rewrites its
import so that ``KMeans`` and ``MiniBatchKMeans`` are xkmeans's (everything
else, ``k_means``, ``kmeans_plusplus`` and the private helpers, stays
scikit-learn's), runs it with pytest and prints pytest's summary.

Usage::

    .venv/bin/python tools/sklearn_kmeans_tests.py [--file PATH] [pytest args...]

e.g. ``-k sparse`` or ``-rf`` (list failures). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile

_ORIGINAL = "from sklearn.cluster import KMeans, MiniBatchKMeans, k_means, kmeans_plusplus"
_SWAPPED = (
    "from sklearn.cluster import k_means, kmeans_plusplus\n"
    "from xkmeans import KMeans, MiniBatchKMeans"
)


def _installed_test_file() -> pathlib.Path:
    import sklearn

    path = pathlib.Path(sklearn.__file__).parent / "cluster" / "tests" / "test_k_means.py"
    if not path.exists():
        sys.exit(
            f"{path} is missing (scikit-learn installed without its tests); pass "
            "--file with test_k_means.py from scikit-learn's source at the same version."
        )
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=pathlib.Path, default=None,
                        help="test_k_means.py to run (default: the installed one)")
    args, pytest_args = parser.parse_known_args(argv)
    source = (args.file or _installed_test_file()).read_text()
    if _ORIGINAL not in source:
        sys.exit(f"import line not found, cannot swap estimators: {_ORIGINAL!r}")
    with tempfile.TemporaryDirectory() as tmp:
        target = pathlib.Path(tmp) / "test_k_means_xkmeans.py"
        target.write_text(source.replace(_ORIGINAL, _SWAPPED, 1))
        report = pathlib.Path(tmp) / "report.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--rootdir", tmp, "-p", "sklearn.conftest", "-W", "ignore::DeprecationWarning",
               f"--junitxml={report}", str(target), *pytest_args]
        rc = subprocess.call(cmd, cwd=tmp)
        _summary(report)
        return rc


def _summary(report: pathlib.Path) -> None:
    """One line of counts (scikit-learn's conftest hides pytest's own)."""
    import xml.etree.ElementTree as ET

    if not report.exists():
        return
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total, failed, errors, skipped = (int(suite.get(k, 0))
                                      for k in ("tests", "failures", "errors", "skipped"))
    passed = total - failed - errors - skipped
    print(f"test_k_means.py with xkmeans: {passed} passed, {failed} failed, "
          f"{errors} errors, {skipped} skipped")


if __name__ == "__main__":
    sys.exit(main())
