"""
==========================================
Two moons: k-means vs spectral clustering
==========================================

k-means assigns every point to its nearest centre, so its clusters are convex
cells with straight borders. Two interleaved half-moons are not separable
that way: whatever two centres k-means picks, the straight border between
them cuts both moons.

Spectral clustering looks at the data differently: it builds a graph joining
each point to its nearest neighbours, and looks for a cut of that graph that
crosses few edges. Each moon is a chain of close neighbours, with a gap
between the moons, so the cheapest cut separates them. Then it runs k-means,
not on the points, but on the leading eigenvectors of the graph's normalized
Laplacian, where the two moons have become two compact blobs.
"""

# %%
# The data, and k-means' straight cut
# -----------------------------------
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from sklearn.datasets import make_moons
from sklearn.metrics import adjusted_rand_score

from xkmeans import KMeans, SpectralClustering

X, y = make_moons(n_samples=500, noise=0.08, random_state=0)

km = KMeans(n_clusters=2, random_state=0).fit(X)
ari_kmeans = adjusted_rand_score(y, km.labels_)
print(f"KMeans:                                  ARI {ari_kmeans:.3f}")

# %%
# Spectral clustering with a nearest-neighbour graph
# --------------------------------------------------
# ``affinity='nearest_neighbors'`` joins each point to its 10 nearest
# neighbours; ``assign_labels='kmeans'`` runs :class:`xkmeans.KMeans` on the
# spectral embedding. The parameters and their meaning are scikit-learn's.
sc = SpectralClustering(n_clusters=2, affinity="nearest_neighbors", n_neighbors=10,
                        assign_labels="kmeans", random_state=0).fit(X)
ari_spectral = adjusted_rand_score(y, sc.labels_)
print(f"SpectralClustering, nearest_neighbors:   ARI {ari_spectral:.3f}")

# %%
# Without ``affinity='nearest_neighbors'``
# ----------------------------------------
# The default affinity, ``'rbf'`` with ``gamma=1.0``, connects every pair of
# points with a weight ``exp(-gamma * distance^2)``. At this scale the weights
# between the moons are not small enough compared to those within them, so
# the cheapest cut is again a roughly straight one: one gets (nearly) k-means'
# answer back. The adjusted Rand index (ARI) compares two labellings: 1 means
# identical clusters, 0 what chance would give.
sc_rbf = SpectralClustering(n_clusters=2, random_state=0).fit(X)
ari_rbf = adjusted_rand_score(y, sc_rbf.labels_)
print(f"SpectralClustering, default rbf:         ARI {ari_rbf:.3f}")
ari_rbf_kmeans = adjusted_rand_score(km.labels_, sc_rbf.labels_)
print(f"agreement of the rbf result with KMeans: ARI {ari_rbf_kmeans:.3f}")
assert ari_spectral > 0.95 > ari_kmeans

fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True, sharey=True)
panels = [
    (km.labels_, f"KMeans: ARI {ari_kmeans:.2f}"),
    (sc.labels_, f"Spectral, nearest_neighbors: ARI {ari_spectral:.2f}"),
    (sc_rbf.labels_, f"Spectral, default rbf: ARI {ari_rbf:.2f}"),
]
for ax, (labels, title) in zip(axes, panels):
    ax.scatter(*X.T, c=np.asarray(labels), cmap="coolwarm", s=8)
    ax.set(title=title, xticks=[], yticks=[], aspect="equal")
axes[0].scatter(*km.cluster_centers_.T, c="k", marker="x", s=80)
fig.tight_layout()

# %%
# The graph and the embedding
# ---------------------------
# The nearest-neighbour graph (``affinity_matrix_``, sparse) has almost no
# edges between the moons. Drawing it makes the reason visible.
A = sc.affinity_matrix_.tocoo()
fig, ax = plt.subplots(figsize=(6.5, 4))
segments = np.stack([X[A.row], X[A.col]], axis=1)
ax.add_collection(LineCollection(segments, colors="0.6", linewidths=0.4))
ax.scatter(*X.T, c=np.asarray(sc.labels_), cmap="coolwarm", s=8, zorder=2)
ax.set(title="10-nearest-neighbour graph", xticks=[], yticks=[], aspect="equal")
fig.tight_layout()

# %%
# ``n_neighbors`` sets how far the graph reaches. Too few neighbours and the
# graph falls apart into pieces (xkmeans warns, as scikit-learn does, that it
# is not fully connected); too many and its edges start to bridge the gap
# between the moons.
