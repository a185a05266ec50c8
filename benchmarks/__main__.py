"""``python -m benchmarks``: see ``python -m benchmarks --help``."""

from .harness import main

raise SystemExit(main())
