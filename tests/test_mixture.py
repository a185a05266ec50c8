"""GaussianMixture: scikit-learn's answers on every backend, and its behaviour at the edges."""

from __future__ import annotations

import warnings

import array_api_compat
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from xkmeans import GaussianMixture, KMeans, MixedArrayError, config_context
from xkmeans._mixture_primitives import (
    NotPositiveDefinite,
    _portable,
    cholesky,
    precision_cholesky,
    solve_triangular,
)

COV_TYPES = ["full", "tied", "diag", "spherical"]


def stretched(n=300, d=3, k=3, seed=0):
    """k tilted, stretched Gaussian clusters (what k-means gets wrong) as float64."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(k):
        rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
        stretch = np.geomspace(3.0, 0.5, d)[:, None] * rotation
        parts.append(rng.normal(size=(n // k, d)) @ stretch + 8 * rng.normal(size=d))
    return np.concatenate(parts)


_REFERENCE = {}


def reference(cov_type):
    """scikit-learn's fit from perturbed converged parameters (cached), and those inits."""
    if cov_type not in _REFERENCE:
        X = stretched()
        conv = SkGaussianMixture(3, covariance_type=cov_type, random_state=0, tol=1e-10,
                                 max_iter=300).fit(X)
        init = {"weights_init": conv.weights_, "means_init": conv.means_ + 0.5,
                "precisions_init": conv.precisions_}
        sk = SkGaussianMixture(3, covariance_type=cov_type, tol=1e-8, max_iter=300,
                               **init).fit(X)
        _REFERENCE[cov_type] = (X, init, sk)
    return _REFERENCE[cov_type]


def _rel(got, expected):
    return np.max(np.abs(got - expected)) / np.max(np.abs(expected))


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_same_fit_as_sklearn_from_same_init(backend, cov_type):
    X, init, sk = reference(cov_type)
    Xb = backend.asarray(X)
    gm = GaussianMixture(3, covariance_type=cov_type, tol=1e-8, max_iter=300,
                         **{k: backend.asarray(v) for k, v in init.items()}).fit(Xb)
    k, d = 3, X.shape[1]
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        got = getattr(gm, name)
        backend.check_array(got, dtype=backend.dtype, shape=getattr(sk, name).shape)
        # float32 data: EM amplifies its rounding a little; float64: the 1e-6.
        rtol = 1e-6 if backend.dtype == "float64" else 1e-4
        assert _rel(backend.to_numpy(got), getattr(sk, name)) < rtol, name
    rtol = 1e-6 if backend.dtype == "float64" else 1e-5
    assert gm.converged_
    assert abs(gm.lower_bound_ - sk.lower_bound_) <= rtol * abs(sk.lower_bound_)
    if backend.dtype == "float64":
        # float32 lower bounds move by less than their rounding near the end, so
        # tol=1e-8 may stop one iteration later there.
        assert gm.n_iter_ == sk.n_iter_
    m = min(gm.n_iter_, sk.n_iter_)
    np.testing.assert_allclose(gm.lower_bounds_[:m], sk.lower_bounds_[:m], rtol=rtol)
    assert abs(gm.bic(Xb) - sk.bic(X)) <= rtol * abs(sk.bic(X))
    assert abs(gm.aic(Xb) - sk.aic(X)) <= rtol * abs(sk.aic(X))
    assert abs(gm.score(Xb) - sk.score(X)) <= rtol * abs(sk.score(X))

    labels = gm.predict(Xb)
    backend.check_array(labels, shape=(X.shape[0],))
    np.testing.assert_array_equal(backend.to_numpy(labels), sk.predict(X))
    proba = gm.predict_proba(Xb)
    backend.check_array(proba, dtype=backend.dtype, shape=(X.shape[0], k))
    np.testing.assert_allclose(backend.to_numpy(proba), sk.predict_proba(X), atol=100 * rtol)
    logp = gm.score_samples(Xb)
    backend.check_array(logp, dtype=backend.dtype, shape=(X.shape[0],))
    np.testing.assert_allclose(backend.to_numpy(logp), sk.score_samples(X), rtol=10 * rtol)
    assert d == gm.n_features_in_


def test_chunked_equals_whole(backend):
    # A working-memory budget of a few rows per chunk gives the same fit.
    X, init, _ = reference("full")
    Xb = backend.asarray(X)
    kw = {k: backend.asarray(v) for k, v in init.items()}
    whole = GaussianMixture(3, max_iter=5, tol=0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole.fit(Xb)
        with config_context(working_memory=0.02), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # tiny chunks: slow, says so
            small = GaussianMixture(3, max_iter=5, tol=0, **kw).fit(Xb)
            proba = small.predict_proba(Xb)
    np.testing.assert_allclose(backend.to_numpy(small.means_), backend.to_numpy(whole.means_),
                               rtol=backend.rtol)
    np.testing.assert_allclose(small.lower_bounds_, whole.lower_bounds_, rtol=backend.rtol)
    np.testing.assert_allclose(backend.to_numpy(proba),
                               backend.to_numpy(whole.predict_proba(Xb)), atol=backend.rtol)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_init_params_same_seed_same_fit_on_every_backend(backend, init_params):
    X = stretched(n=150, seed=1)
    kw = {"covariance_type": "diag", "init_params": init_params, "random_state": 0,
          "max_iter": 200}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # 'random_from_data' starts from covariances of reg_covar: a path that
        # float32 rounding changes, so the reference is NumPy in the same dtype.
        ref = GaussianMixture(3, **kw).fit(X.astype(backend.dtype))
        gm = GaussianMixture(3, **kw).fit(backend.asarray(X))
    np.testing.assert_allclose(backend.to_numpy(gm.means_), ref.means_,
                               rtol=100 * backend.rtol, atol=100 * backend.rtol)
    assert abs(gm.lower_bound_ - ref.lower_bound_) <= 100 * backend.rtol
    if init_params in ("kmeans", "k-means++"):  # others may find another optimum
        sk = SkGaussianMixture(3, covariance_type="diag", init_params=init_params,
                               random_state=0).fit(X)
        assert abs(ref.lower_bound_ - sk.lower_bound_) < 1e-3


def test_kmeans_init_uses_xkmeans_kmeans():
    X = stretched(n=150, seed=2)
    gm = GaussianMixture(3, max_iter=0, random_state=0).fit(X)
    labels = KMeans(3, n_init=1, random_state=np.random.default_rng(0)).fit(X).labels_
    means = np.stack([X[labels == j].mean(axis=0) for j in range(3)])
    np.testing.assert_allclose(gm.means_, means, rtol=1e-12)
    assert gm.n_iter_ == 0 and not gm.converged_ and gm.lower_bounds_ == []


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_random_init_is_sklearns_first_m_step(cov_type):
    # Uniform responsibilities drawn chunk by chunk (two passes replay the same
    # draws) give scikit-learn's M-step on the whole responsibility matrix.
    from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

    X = stretched(n=150, seed=5)
    with config_context(working_memory=0.02), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # tiny chunks: slow, says so
        gm = GaussianMixture(3, covariance_type=cov_type, init_params="random",
                             random_state=0, max_iter=0).fit(X)
    resp = np.random.default_rng(0).uniform(size=(150, 3))
    resp /= resp.sum(axis=1, keepdims=True)
    nk, means, covs = _estimate_gaussian_parameters(X, resp, 1e-6, cov_type)
    np.testing.assert_allclose(gm.weights_, nk / 150, rtol=1e-12)
    np.testing.assert_allclose(gm.means_, means, rtol=1e-10)
    np.testing.assert_allclose(gm.covariances_, covs, rtol=1e-10, atol=1e-12)


def test_one_readback_per_iteration(monkeypatch):
    import xkmeans._gaussian_em as em

    calls = []

    def counting(a):
        calls.append(a)
        return em_to_numpy(a)

    em_to_numpy = em.to_numpy
    monkeypatch.setattr(em, "to_numpy", counting)
    X, init, _ = reference("full")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, tol=0, max_iter=7, **init).fit(X)
    # One array of two numbers per iteration, and one check of the initial factors.
    assert gm.n_iter_ == 7 and len(calls) == 8
    assert all(np.asarray(a).size <= 2 for a in calls)


def test_cuda_syncs_about_once_per_iteration():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    X, init, _ = reference("full")
    Xc = torch.asarray(np.tile(X, (50, 1)), device="cuda")
    kw = {k: torch.asarray(v, device="cuda") for k, v in init.items()}
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            gm = GaussianMixture(3, tol=0, max_iter=10, **kw).fit(Xc)
        finally:
            torch.cuda.set_sync_debug_mode(0)
    syncs = sum("synchroniz" in str(w.message).lower() for w in rec)
    # Validation of X and of the initial parameters costs a handful.
    assert syncs <= gm.n_iter_ + 12, (syncs, gm.n_iter_)


def test_n_init_keeps_best_and_fit_predict_equals_predict():
    X = stretched(n=150, seed=3)
    one = GaussianMixture(3, init_params="random", random_state=0, max_iter=20)
    many = GaussianMixture(3, init_params="random", random_state=0, max_iter=20, n_init=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one.fit(X)
        labels = many.fit_predict(X)
    assert many.lower_bound_ >= one.lower_bound_
    np.testing.assert_array_equal(labels, many.predict(X))


def test_sample(backend):
    X = reference("full")[0]
    for cov_type in COV_TYPES:
        init = reference(cov_type)[1]
        gm = GaussianMixture(3, covariance_type=cov_type, random_state=7,
                             **{k: backend.asarray(v) for k, v in init.items()})
        gm.fit(backend.asarray(X))
        Xs, y = gm.sample(400)
        backend.check_array(Xs, dtype=backend.dtype, shape=(400, 3))
        backend.check_array(y, shape=(400,))
        y = backend.to_numpy(y)
        assert np.all(np.diff(y) >= 0) and set(np.unique(y)) <= {0, 1, 2}
        Xs2, _ = gm.sample(400)  # an int random_state: the same draws every call
        np.testing.assert_array_equal(backend.to_numpy(Xs2), backend.to_numpy(Xs))
        # The same seed gives the same samples on every backend.
        ref_gm = GaussianMixture(3, covariance_type=cov_type, random_state=7, **init).fit(X)
        np.testing.assert_allclose(backend.to_numpy(Xs), ref_gm.sample(400)[0],
                                   rtol=100 * backend.rtol, atol=100 * backend.rtol)
    with pytest.raises(ValueError, match="n_samples"):
        gm.sample(0)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_sample_moments(cov_type):
    _, init, _ = reference(cov_type)
    gm = GaussianMixture(3, covariance_type=cov_type, random_state=0, **init)
    gm.fit(stretched())
    Xs, y = gm.sample(30_000)
    np.testing.assert_allclose(np.bincount(y) / 30_000, gm.weights_, atol=0.02)
    j = int(np.argmax(gm.weights_))
    np.testing.assert_allclose(Xs[y == j].mean(axis=0), gm.means_[j], atol=0.15)
    full = {"full": lambda c: c[j], "tied": lambda c: c, "diag": lambda c: np.diag(c[j]),
            "spherical": lambda c: c[j] * np.eye(3)}[cov_type](gm.covariances_)
    np.testing.assert_allclose(np.cov(Xs[y == j].T), full, atol=0.15 * np.abs(full).max())


@pytest.mark.filterwarnings("ignore:Number of distinct clusters:sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_collapsed_component_names_reg_covar(backend, cov_type):
    # Two components on one repeated point: no covariance is positive definite.
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="increase reg_covar"):
        SkGaussianMixture(2, covariance_type=cov_type, reg_covar=0).fit(X)
    # At initialisation ...
    with pytest.raises(ValueError, match="increase reg_covar"):
        GaussianMixture(2, covariance_type=cov_type, reg_covar=0).fit(backend.asarray(X))
    # ... and in the EM loop (the flag comes back with the lower bound).
    prec = {"full": np.stack([np.eye(2)] * 2), "tied": np.eye(2), "diag": np.ones((2, 2)),
            "spherical": np.ones(2)}[cov_type]
    init = {"weights_init": [0.5, 0.5], "means_init": [[0.0, 0.0], [0.0, 0.0]],
            "precisions_init": prec}
    with pytest.raises(ValueError, match="increase reg_covar"):
        SkGaussianMixture(2, covariance_type=cov_type, reg_covar=0, **init).fit(X)
    gm = GaussianMixture(2, covariance_type=cov_type, reg_covar=0,
                         **{k: backend.asarray(v) for k, v in init.items()})
    with pytest.raises(ValueError, match="increase reg_covar") as info:
        gm.fit(backend.asarray(X))
    assert ("float64 data" in str(info.value)) == (backend.dtype == "float32")
    # With the default reg_covar the same data fit.
    GaussianMixture(2, covariance_type=cov_type).fit(backend.asarray(X))


def test_convergence_warning_and_warm_start():
    X = stretched(n=150, seed=4)
    gm = GaussianMixture(3, max_iter=2, tol=0, random_state=0, warm_start=True)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        gm.fit(X)
    first = gm.lower_bounds_
    with pytest.warns(ConvergenceWarning):
        gm.fit(X)  # continues where it stopped: the lower bound keeps rising
    assert gm.lower_bounds_[0] >= first[-1] - 1e-12
    cold = GaussianMixture(3, max_iter=4, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold.fit(X)
    np.testing.assert_allclose(gm.means_, cold.means_, rtol=1e-9)


def test_user_parameters_checked_as_sklearn():
    X = stretched(n=60)
    cases = [
        ({"weights_init": [0.5, 0.5]}, "'weights' should have the shape of \\(3,\\)"),
        ({"weights_init": [0.5, 0.6, -0.1]}, "should be in the range \\[0, 1\\]"),
        ({"weights_init": [0.5, 0.4, 0.2]}, "should be normalized"),
        ({"means_init": np.zeros((2, 3))}, "'means' should have the shape of \\(3, 3\\)"),
        ({"precisions_init": -np.ones((3, 3))}, "'diag precision' should be positive"),
    ]
    for kw, match in cases:
        cov = "diag" if "precisions_init" in kw else "full"
        with pytest.raises(ValueError, match=match):
            GaussianMixture(3, covariance_type=cov, **kw).fit(X)
        with pytest.raises(ValueError, match=match):
            SkGaussianMixture(3, covariance_type=cov, **kw).fit(X)
    bad = np.stack([np.eye(3), -np.eye(3), np.eye(3)])
    with pytest.raises(ValueError, match="'full precision' should be symmetric, positive"):
        GaussianMixture(3, precisions_init=bad).fit(X)
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(70).fit(X)


def test_mixed_backends_raise(foreign_backend):
    X = stretched(n=60)
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(MixedArrayError, match="means_"):
        gm.predict(foreign_backend.asarray(X))
    with pytest.raises(MixedArrayError):
        GaussianMixture(2, means_init=np.zeros((2, 3))).fit(foreign_backend.asarray(X))


def test_verbose_prints_sklearn_lines(capsys):
    X = stretched(n=60)
    GaussianMixture(2, verbose=2, verbose_interval=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert "Initialization 0" in out and "Iteration 1" in out and "converged" in out


# --- primitives: fast paths give the portable answer --------------------------

def test_linalg_fast_paths_equal_portable(backend):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 5, 5))
    C = backend.asarray(A @ A.transpose(0, 2, 1) + np.eye(5))
    B = backend.asarray(rng.normal(size=(4, 5, 2)))
    xp = array_api_compat.array_namespace(C)
    U, bad = precision_cholesky(C, xp=xp)
    with config_context(fast_paths=False):
        U_ref, _ = precision_cholesky(C, xp=xp)
        L_ref, _ = cholesky(C, xp=xp)
        up_ref = solve_triangular(xp.matrix_transpose(L_ref), B, lower=False, xp=xp)
    L, _ = cholesky(C, xp=xp)
    up = solve_triangular(xp.matrix_transpose(L), B, lower=False, xp=xp)
    assert not bool(backend.to_numpy(xp.asarray(bad)))
    backend.check_array(U, dtype=backend.dtype, shape=(4, 5, 5))
    np.testing.assert_allclose(backend.to_numpy(U), backend.to_numpy(U_ref), rtol=backend.rtol,
                               atol=backend.rtol)
    np.testing.assert_allclose(backend.to_numpy(up), backend.to_numpy(up_ref),
                               rtol=10 * backend.rtol, atol=10 * backend.rtol)
    # U U^T is the inverse of C; L^T x = B solved.
    Cn, Un = A @ A.transpose(0, 2, 1) + np.eye(5), backend.to_numpy(U).astype(float)
    np.testing.assert_allclose(Un @ Un.transpose(0, 2, 1) @ Cn, np.broadcast_to(np.eye(5), Cn.shape),
                               atol=1e3 * backend.rtol)
    assert np.all(np.triu(Un) == Un)


def test_cholesky_flags_or_raises_on_not_positive_definite(backend):
    M = backend.asarray(np.array([[[2.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]]))
    xp = array_api_compat.array_namespace(M)
    for fast in (True, False):
        with config_context(fast_paths=fast):
            try:
                _, bad = cholesky(M, xp=xp)
            except NotPositiveDefinite:
                continue
            assert bool(backend.to_numpy(xp.asarray(bad)))


def test_logsumexp_is_stable(backend):
    a = backend.asarray(np.array([[1000.0, -np.inf], [1000.0, -np.inf], [-1000.0, -np.inf]]))
    xp = array_api_compat.array_namespace(a)
    out = backend.to_numpy(_portable.logsumexp(a, axis=0, xp=xp))
    np.testing.assert_allclose(out[0], 1000 + np.log(2 + np.exp(-2000.0)), rtol=1e-6)
    assert out[1] == -np.inf


def test_scikit_learn_private_hooks_give_its_parameters():
    """_initialize(X, resp) and _set_parameters, which code written against
    scikit-learn's GaussianMixture (its own tests among it) calls."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3))
    resp = rng.uniform(size=(120, 4))
    resp /= resp.sum(axis=1, keepdims=True)
    for cov in ("full", "tied", "diag", "spherical"):
        ours, theirs = GaussianMixture(4, covariance_type=cov), SkGaussianMixture(4, covariance_type=cov)
        ours._initialize(X, resp)
        theirs._initialize(X, resp)
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-10)
        params = (theirs.weights_, theirs.means_, theirs.covariances_,
                  theirs.precisions_cholesky_)
        ours, theirs = GaussianMixture(4, covariance_type=cov), SkGaussianMixture(4, covariance_type=cov)
        ours._set_parameters(params)
        theirs._set_parameters(params)
        np.testing.assert_allclose(ours.precisions_, theirs.precisions_, rtol=1e-10)


def test_weights_out_of_range_in_scikit_learn_words():
    w = np.array([1.5, -0.5])
    with pytest.raises(ValueError, match=r"range \[0, 1\], but got max value -0.50000, min value "
                                         r"1.50000"):
        GaussianMixture(2, weights_init=w).fit(np.random.default_rng(0).normal(size=(20, 2)))
