"""
=================================================
Local optima, restarts, and choosing the number k
=================================================

Lloyd's algorithm only ever goes downhill: each E-step and each M-step lowers
the inertia (the sum of squared distances of samples to their centre), and it
stops in the first valley it reaches. Where it ends depends on where it
started, so one run can get stuck with two centres in one blob and one centre
straddling two blobs. ``n_init`` restarts from different seeds and keeps the
lowest inertia.

The second half of this example shows two common ways to choose the number
of clusters: the "elbow" of the inertia curve, and the silhouette score.
"""

# %%
# Fifteen blobs, twenty single runs
# ---------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score

from xkmeans import KMeans

X, y_true = make_blobs(n_samples=3000, centers=15, cluster_std=1.0,
                       center_box=(-15, 15), random_state=0)

seeds = range(20)
single = {
    init: [KMeans(n_clusters=15, init=init, n_init=1, random_state=s).fit(X) for s in seeds]
    for init in ("k-means++", "random")
}
best = KMeans(n_clusters=15, n_init=10, random_state=0).fit(X)

print(f"n_init=10 (k-means++):        inertia {best.inertia_:9.0f}")
for init, fits in single.items():
    inertia = np.array([km.inertia_ for km in fits])
    print(f"n_init=1 ({init:>9}), 20 seeds: inertia {inertia.min():9.0f} .. "
          f"{inertia.max():9.0f}, median {np.median(inertia):9.0f}; "
          f"{np.mean(inertia > 1.001 * best.inertia_):.0%} of runs above the n_init=10 result")

# %%
# Each dot is one run from one seed. k-means++ seeding (the default) spreads
# the first centres out and usually lands near the best valley, but not
# always; uniformly random seeding does much worse. Ten restarts with
# k-means++ find the lowest inertia of all.
fig, ax = plt.subplots(figsize=(7, 3.2))
for row, (init, fits) in enumerate(single.items()):
    inertia = [km.inertia_ for km in fits]
    ax.scatter(inertia, np.full(len(inertia), row), alpha=0.7, label=f"n_init=1, init='{init}'")
ax.axvline(best.inertia_, color="k", ls="--", label="n_init=10, init='k-means++'")
ax.set(yticks=[0, 1], yticklabels=["k-means++", "random"], xlabel="inertia (lower is better)",
       ylim=(-0.7, 1.7), title="Inertia of single runs from 20 seeds")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()

# %%
# What a local optimum looks like
# -------------------------------
# The worst k-means++ run next to the best solution: a poor optimum spends
# two centres on one blob and covers two other blobs with a single centre.
# No single E- or M-step can fix that, because moving one centre alone
# across the gap raises the inertia first.
worst = max(single["k-means++"], key=lambda km: km.inertia_)
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True)
for ax, km, name in zip(axes, (worst, best), ("worst single run", "n_init=10")):
    ax.scatter(*X.T, c=km.labels_, cmap="tab20", s=3)
    ax.scatter(*km.cluster_centers_.T, c="k", marker="x", s=60)
    ax.set(title=f"{name}: inertia {km.inertia_:.0f}", xticks=[], yticks=[])
fig.tight_layout()

# %%
# Choosing k: the elbow and the silhouette
# ----------------------------------------
# The inertia always decreases as k grows (k = n gives zero), so its minimum
# says nothing. What helps is its shape: it falls steeply while each new
# centre splits a real group, then flattens once centres start splitting
# blobs in halves; the bend is the "elbow".
#
# The silhouette score (:func:`sklearn.metrics.silhouette_score`) compares,
# for every sample, the mean distance to its own cluster (a) with the mean
# distance to the nearest other cluster (b): ``(b - a) / max(a, b)``,
# averaged over the samples. It is highest when clusters are tight and far
# apart, and it does not grow with k by construction.
#
# Each k gets five restarts, so that the curves measure k, not luck.
ks = np.arange(2, 21)
inertias, silhouettes = [], []
for k in ks:
    km = KMeans(n_clusters=int(k), n_init=5, random_state=0).fit(X)
    inertias.append(km.inertia_)
    silhouettes.append(silhouette_score(X, km.labels_))
best_k = int(ks[np.argmax(silhouettes)])
print("k:          ", ks.tolist())
print("inertia:    ", [round(v) for v in inertias])
print("silhouette: ", [round(v, 3) for v in silhouettes])
print(f"highest silhouette at k={best_k} (the data has 15 blobs)")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
ax0.plot(ks, inertias, "o-")
ax0.set(xlabel="k", ylabel="inertia", title="Elbow: inertia against k", xticks=ks[::2])
ax1.plot(ks, silhouettes, "o-", color="C1")
ax1.axvline(best_k, color="k", ls="--")
ax1.set(xlabel="k", ylabel="mean silhouette", title="Silhouette score against k", xticks=ks[::2])
fig.tight_layout()

# %%
# Both point at 15 here. On real data the elbow is often soft and the
# silhouette peak flat: treat them as hints, and prefer the k whose clusters
# are useful for what you want to do with them.
