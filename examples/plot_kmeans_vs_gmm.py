"""
==================================================
k-means against a Gaussian mixture on slanted data
==================================================

k-means gives every point to its nearest centre, so the boundary between two
clusters is always the straight line halfway between their centres: it
assumes round clusters of similar size. Stretch the data with a linear map
and that assumption breaks, while a Gaussian mixture with a full covariance
per component learns each cluster's ellipse.

The data are the three blobs of scikit-learn's "demonstration of k-means
assumptions", sheared by the same matrix.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from xkmeans import GaussianMixture, KMeans

X, y = make_blobs(n_samples=1500, centers=3, random_state=170)
X = X @ np.array([[0.60834549, -0.63667341], [-0.40887718, 0.85253229]])

kmeans = KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)
gmm = GaussianMixture(n_components=3, covariance_type="full", random_state=0).fit(X)
labels = {"KMeans(n_clusters=3, n_init=10)": kmeans.labels_,
          "GaussianMixture(3, covariance_type='full')": gmm.predict(X)}
ari = {name: adjusted_rand_score(y, lab) for name, lab in labels.items()}
for name, score in ari.items():
    print(f"{name:44s} adjusted Rand index {score:.3f}")
ari_kmeans, ari_gmm = ari.values()
assert ari_gmm > 0.99 and ari_kmeans < 0.8, ari

# %%
# k-means cuts the long clusters across, because the points at the far end of
# one stretched blob are nearer to the neighbouring centre; the mixture gives
# each cluster its own covariance and recovers the three blobs.
fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharex=True, sharey=True)
for ax, (name, lab) in zip(axes, labels.items()):
    ax.scatter(X[:, 0], X[:, 1], c=lab, s=4, cmap="viridis")
    ax.set_title(f"{name}\nARI {ari[name]:.2f}", fontsize=9)
axes[0].scatter(*kmeans.cluster_centers_.T, marker="x", c="r", s=60)
axes[1].scatter(*gmm.means_.T, marker="x", c="r", s=60)
fig.tight_layout()
plt.show()
