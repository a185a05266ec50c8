"""
=====================================================
Clustering text: sparse TF-IDF and cosine k-means
=====================================================

Documents are compared by what they talk about, not by how long they are.
This example clusters the docstrings of the functions and classes of ten
modules of NumPy, SciPy and scikit-learn (text that ships with the installed
packages: nothing is downloaded), turned into a sparse TF-IDF matrix by
scikit-learn's ``TfidfVectorizer``, and asks whether the clusters find the
modules again.

:class:`xkmeans.KMeans` takes the SciPy sparse matrix as it is: distances
are computed as ``|x|^2 - 2 x.c + |c|^2`` with a sparse-dense product and
the matrix is never densified. Two ways to cluster it:

- Euclidean k-means on raw TF-IDF weights (``norm=None``): long docstrings
  have long vectors, and length dominates the distances;
- cosine (spherical) k-means, ``KMeans(metric='cosine')``: rows and centres
  on the unit sphere, each document goes to the centre with the largest
  cosine similarity, so only the direction of a vector, what the document
  is about, counts.
"""

# %%
import inspect
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, v_measure_score

from xkmeans import KMeans

MODULES = ["numpy.linalg", "numpy.random", "numpy.polynomial", "scipy.optimize",
           "scipy.interpolate", "scipy.sparse", "scipy.linalg", "sklearn.metrics",
           "sklearn.linear_model", "sklearn.preprocessing"]


def docstrings(module_names, min_length=200):
    """The public callables' docstrings of each module, and the module's index."""
    import importlib

    docs, labels = [], []
    for i, name in enumerate(module_names):
        module = importlib.import_module(name)
        with warnings.catch_warnings():  # some attributes are deprecated aliases
            warnings.simplefilter("ignore")
            for attr in sorted(getattr(module, "__all__", dir(module))):
                obj = getattr(module, attr, None)
                doc = inspect.getdoc(obj) if callable(obj) and not attr.startswith("_") else None
                if doc and len(doc) >= min_length:
                    docs.append(doc)
                    labels.append(i)
    return docs, np.array(labels)


docs, y = docstrings(MODULES)
vectorizer = TfidfVectorizer(stop_words="english", min_df=2, max_df=0.3, norm=None,
                             token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b")
X = vectorizer.fit_transform(docs)  # scipy.sparse CSR, raw TF-IDF weights
print(f"{X.shape[0]} docstrings, {X.shape[1]} terms, {X.nnz} stored values "
      f"({100 * X.nnz / np.prod(X.shape):.1f} % dense)")

# %%
# The same number of clusters as modules, the same seed, three restarts each.
k = len(MODULES)
fits = {
    "Euclidean k-means": KMeans(k, n_init=3, random_state=0).fit(X),
    "cosine k-means": KMeans(k, n_init=3, random_state=0, metric="cosine").fit(X),
}
scores = {}
for name, km in fits.items():
    sizes = np.bincount(km.labels_, minlength=k)
    scores[name] = (adjusted_rand_score(y, km.labels_), v_measure_score(y, km.labels_))
    print(f"{name:18s} ARI {scores[name][0]:.2f}  V-measure {scores[name][1]:.2f}  "
          f"largest cluster {sizes.max()} of {len(y)}")
euclid, cosine = scores["Euclidean k-means"], scores["cosine k-means"]
assert cosine[0] > euclid[0] + 0.3 and cosine[1] > 0.6, scores

# %%
# Euclidean k-means puts most documents in one cluster and gives the longest
# docstrings clusters of their own; cosine k-means finds most modules. The
# centres of cosine k-means are unit vectors; their largest terms name the
# topic of each cluster.
terms = vectorizer.get_feature_names_out()
centres = fits["cosine k-means"].cluster_centers_
labels = fits["cosine k-means"].labels_
for c in range(k):
    top = terms[np.argsort(centres[c])[::-1][:5]]
    module = MODULES[np.bincount(y[labels == c], minlength=k).argmax()]
    print(f"cluster {c} ({np.sum(labels == c):3d} docs, mostly {module:21s}): {', '.join(top)}")

# %%
# Which modules end up in which cluster: each column is a module, each row a
# cluster (sorted by their most common module), shaded by the share of the
# module's docstrings.
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
for ax, (name, km) in zip(axes, fits.items(), strict=True):
    table = np.zeros((k, k))
    np.add.at(table, (km.labels_, y), 1)
    table /= table.sum(axis=0, keepdims=True)
    order = np.argsort(table.argmax(axis=1), kind="stable")
    ax.imshow(table[order], cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), [m.split(".", 1)[1] for m in MODULES], rotation=60, ha="right",
                  fontsize=8)
    ax.set_yticks([])
    ax.set_ylabel("cluster")
    ari, vm = scores[name]
    ax.set_title(f"{name}: ARI {ari:.2f}, V-measure {vm:.2f}")
plt.show()
