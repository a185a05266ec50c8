"""
===================================================
Choosing the number of mixture components with BIC
===================================================

A Gaussian mixture is a probability model, so its fit can be scored by how
likely it makes the data. More components always fit better; the Bayesian
information criterion (BIC) charges each free parameter ``log(n_samples)``
and so stops rewarding components that only chase noise::

    BIC = -2 * log-likelihood + n_parameters * log(n_samples)

Lower is better. Here the data are three Gaussian clusters of different
shapes: one stretched along a slanted line, one round, one narrow and
upright. Every covariance type is fitted with 1 to 6 components and the
lowest BIC is kept. :func:`xkmeans.choose_k` does the same scan for one
covariance type in a single call.
"""

# %%
# Three clusters of different shapes
# ----------------------------------
import matplotlib.pyplot as plt
import numpy as np

from xkmeans import GaussianMixture, choose_k

rng = np.random.default_rng(0)
stretched = rng.normal(size=(600, 2)) @ np.array([[3.0, 0.0], [1.5, 0.4]])
round_ = rng.normal(size=(600, 2)) + [6.0, 6.0]
upright = rng.normal(size=(300, 2)) @ np.array([[0.3, 0.0], [0.0, 2.0]]) + [-5.0, 6.0]
X = np.vstack([stretched, round_, upright])

# %%
# BIC for every covariance type and number of components
# ------------------------------------------------------
covariance_types = ("spherical", "tied", "diag", "full")
n_components = range(1, 7)
bic = {
    cov: [GaussianMixture(k, covariance_type=cov, random_state=0).fit(X).bic(X)
          for k in n_components]
    for cov in covariance_types
}
best_cov, best_k = min(((cov, k) for cov in covariance_types for k in n_components),
                       key=lambda ck: bic[ck[0]][ck[1] - 1])
print(f"lowest BIC: covariance_type={best_cov!r}, n_components={best_k} "
      f"(BIC {bic[best_cov][best_k - 1]:.1f})")
assert (best_cov, best_k) == ("full", 3), (best_cov, best_k)

fig, ax = plt.subplots(figsize=(7, 3.5))
width = 0.2
for i, cov in enumerate(covariance_types):
    ax.bar(np.array(n_components) + (i - 1.5) * width, bic[cov], width, label=cov)
ax.set(xlabel="number of components", ylabel="BIC (lower is better)",
       ylim=(0.95 * min(min(v) for v in bic.values()), None),
       title="BIC of each mixture model")
ax.legend(title="covariance_type", fontsize=8)
fig.tight_layout()

# %%
# Spherical and diagonal covariances cannot tilt a cluster, so they spend
# extra components to tile the slanted one and still score worse; the tied
# model forces one shape on all three. A full covariance per component
# describes each cluster with one ellipse, and BIC stops at three: a fourth
# component raises the likelihood less than its parameters cost.
#
# The same scan in one call
# -------------------------
# :func:`xkmeans.choose_k` fits one mixture per k (full covariances by
# default for ``method='bic'``) and returns a small table with the choice.
result = choose_k(X, range(1, 7), method="bic", random_state=0)
print(result)
assert result.best_k == 3

# %%
# The chosen model
# ----------------
# Each component drawn as the ellipse of two standard deviations around its
# mean; points coloured by the component that most probably generated them.
gmm = result.best_estimator
labels = gmm.predict(X)
fig, ax = plt.subplots(figsize=(5.5, 4.5))
ax.scatter(X[:, 0], X[:, 1], c=labels, s=4, cmap="viridis")
angles = np.linspace(0, 2 * np.pi, 100)
circle = np.stack([np.cos(angles), np.sin(angles)])
for mean, cov in zip(gmm.means_, gmm.covariances_):
    ellipse = np.linalg.cholesky(cov) @ circle * 2 + mean[:, None]
    ax.plot(ellipse[0], ellipse[1], "k", lw=1.2)
ax.set(title=f"GaussianMixture(n_components={best_k}, covariance_type='full')",
       aspect="equal")
fig.tight_layout()
plt.show()
