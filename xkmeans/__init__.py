"""xkmeans: k-means and friends written once against the Python Array API.

The same code runs on NumPy (CPU), CuPy (CUDA), PyTorch and array-api-strict;
results come back in the input's library, on its device.
"""

from . import metrics  # noqa: F401 (the xkmeans.metrics module)
from ._affinity_propagation import AffinityPropagation
from ._backend import MixedArrayError
from ._choose_k import choose_k
from ._config import config_context, get_config, set_config
from ._dbscan import DBSCAN
from ._kmeans import KMeans
from ._mean_shift import MeanShift, estimate_bandwidth
from ._minibatch import MiniBatchKMeans
from ._mixture import GaussianMixture
from ._neighbors import CSRGraph, kneighbors, kneighbors_graph
from ._radius import radius_neighbors, radius_neighbors_graph
from ._spectral import SpectralClustering
from .quantize import dequantize, psnr, quantize

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
