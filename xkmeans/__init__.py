"""xkmeans: k-means and friends written once against the Python Array API.

The same code runs on NumPy (CPU), CuPy (CUDA), PyTorch and array-api-strict;
results come back in the input's library, on its device.

The estimators (and scikit-learn, which they build on) are imported on first
use, so ``import xkmeans`` and the ``xkmeans`` command start quickly.
"""

import importlib

from ._backend import MixedArrayError
from ._config import config_context, get_config, set_config
from .quantize import dequantize, psnr, quantize

# Public names defined in submodules that import scikit-learn: loaded on first use.
_LAZY = {
    "AffinityPropagation": "_affinity_propagation",
    "CSRGraph": "_neighbors",
    "DBSCAN": "_dbscan",
    "GaussianMixture": "_mixture",
    "KMeans": "_kmeans",
    "MeanShift": "_mean_shift",
    "MiniBatchKMeans": "_minibatch",
    "SpectralClustering": "_spectral",
    "choose_k": "_choose_k",
    "estimate_bandwidth": "_mean_shift",
    "kneighbors": "_neighbors",
    "kneighbors_graph": "_neighbors",
    "radius_neighbors": "_radius",
    "radius_neighbors_graph": "_radius",
}

__all__ = [
    "DBSCAN",
    "AffinityPropagation",
    "CSRGraph",
    "GaussianMixture",
    "KMeans",
    "MeanShift",
    "MiniBatchKMeans",
    "MixedArrayError",
    "SpectralClustering",
    "choose_k",
    "config_context",
    "dequantize",
    "estimate_bandwidth",
    "get_config",
    "kneighbors",
    "kneighbors_graph",
    "psnr",
    "quantize",
    "radius_neighbors",
    "radius_neighbors_graph",
    "set_config",
]
__version__ = "0.1.0"


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name == "metrics":
        value = importlib.import_module(".metrics", __name__)
    else:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | {"metrics"})
