"""Input validation shared by the estimators, with scikit-learn's wording.

NumPy arrays and non-array input (lists, DataFrames, sparse matrices) go
through scikit-learn's own ``validate_data``, so feature names and messages
are exactly sklearn's. Arrays of other libraries (CuPy, PyTorch,
array-api-strict, ...) are checked here, on their device, with the same
messages.

scikit-learn is imported where it is called, not with this module: colour
quantization uses these checks on a GPU without it (see ``_kmeans_core``).
"""

from __future__ import annotations

import numbers

import array_api_compat
import numpy as np

from ._backend import MixedArrayError, default_float, get_device, get_namespace, to_numpy
from ._sparse import as_sparse_rows, is_sparse, is_sparse_input


def _is_foreign_array(X) -> bool:
    return array_api_compat.is_array_api_obj(X) and not isinstance(X, np.ndarray)


def check_2d(X, name: str):
    """scikit-learn's errors for X that is not 2-D (``name``: the estimator)."""
    if X.ndim != 2:
        if X.ndim == 1:
            msg = (
                f"Expected 2D array, got 1D array instead: shape={tuple(X.shape)}.\n"
                "Reshape your data either using array.reshape(-1, 1) if your data "
                "has a single feature or array.reshape(1, -1) if it contains a "
                "single sample."
            )
        else:
            msg = f"Found array with dim {X.ndim}. {name} expected <= 2."
        raise ValueError(msg)


def check_X(estimator, X, *, reset: bool, min_samples: int = 1, accept_sparse: bool = False):
    """Validate X; return ``(X, xp, device)`` with X a 2-D real float array.

    Integer and boolean input becomes the device's default float; float32
    and float64 are kept. NaN and infinity, complex values, empty arrays and
    arrays that are not 2-D raise ``ValueError`` (``TypeError`` for types).
    With ``accept_sparse``, SciPy, CuPy and PyTorch sparse matrices become a
    ``SparseRows`` (CSR, converted once); otherwise they raise scikit-learn's
    ``TypeError``.
    """
    name = type(estimator).__name__
    if is_sparse_input(X) and (accept_sparse or not _is_foreign_array(X)):
        return _check_sparse_X(estimator, X, reset=reset, min_samples=min_samples,
                               accept=accept_sparse)
    if not _is_foreign_array(X):
        from sklearn.utils.validation import validate_data

        X = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_min_samples=min_samples,
        )
        xp = array_api_compat.array_namespace(X)
        return X, xp, get_device(X)
    if is_sparse_input(X):
        raise TypeError(_SPARSE_REFUSED)

    xp = get_namespace(X)
    device = get_device(X)
    check_2d(X, name)
    dtype = X.dtype
    if xp.isdtype(dtype, "complex floating"):
        msg = f"Complex data not supported: got {dtype}. {name} accepts real numbers only."
        raise ValueError(msg)
    if xp.isdtype(dtype, ("integral", "bool")) or (
        xp.isdtype(dtype, "real floating") and dtype not in (xp.float32, xp.float64)
    ):
        # Half precision too: distances and sums would lose most digits.
        X = xp.astype(X, default_float(xp, device))
    elif not xp.isdtype(dtype, "real floating"):
        msg = f"Unsupported dtype {dtype}: {name} accepts real numbers (float, int, bool)."
        raise TypeError(msg)
    n_samples, n_features = X.shape
    if n_samples < min_samples:
        msg = (
            f"Found array with {n_samples} sample(s) (shape={tuple(X.shape)}) while a "
            f"minimum of {min_samples} is required by {name}."
        )
        raise ValueError(msg)
    if n_features < 1:
        msg = (
            f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a "
            f"minimum of 1 is required by {name}."
        )
        raise ValueError(msg)
    check_finite(X, xp=xp, what="X")
    _check_n_features(estimator, n_features, reset=reset)
    return X, xp, device


_SPARSE_REFUSED = (
    "Sparse data was passed for X, but dense data is required. Use '.toarray()' to "
    "convert to a dense numpy array."
)


def _check_sparse_X(estimator, X, *, reset, min_samples, accept):
    """Sparse X: SciPy through scikit-learn's ``validate_data``, others here."""
    name = type(estimator).__name__
    if _is_foreign_array(X) or type(X).__module__.startswith("cupyx"):
        if not accept:
            raise TypeError(_SPARSE_REFUSED)
        S, xp = as_sparse_rows(X, name=name)
        n_samples, n_features = S.shape
        if n_samples < min_samples:
            msg = (
                f"Found array with {n_samples} sample(s) (shape={S.shape}) while a "
                f"minimum of {min_samples} is required by {name}."
            )
            raise ValueError(msg)
        if n_features < 1:
            msg = (
                f"Found array with 0 feature(s) (shape={S.shape}) while a "
                f"minimum of 1 is required by {name}."
            )
            raise ValueError(msg)
        check_finite(S.data, xp=xp, what="X")
        _check_n_features(estimator, n_features, reset=reset)
        return S, xp, S.device
    from sklearn.utils.validation import validate_data

    X = validate_data(
        estimator,
        X,
        reset=reset,
        accept_sparse="csr" if accept else False,
        dtype=[np.float64, np.float32],
        ensure_min_samples=min_samples,
    )
    S, xp = as_sparse_rows(X, name=name)
    return S, xp, S.device


def _check_n_features(estimator, n_features, *, reset):
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif n_features != estimator.n_features_in_:
        msg = (
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
        raise ValueError(msg)


def nonfinite(a, *, xp):
    """``'NaN'`` or ``'infinity'`` if ``a`` holds one (NaN first), else None;
    one readback."""
    flags = to_numpy(xp.stack([xp.any(xp.isnan(a)), xp.any(xp.isinf(a))]))
    return "NaN" if flags[0] else "infinity" if flags[1] else None


def check_finite(a, *, xp, what: str):
    """Raise ``ValueError`` if ``a`` holds NaN or infinity (one readback)."""
    bad = nonfinite(a, xp=xp)
    if bad == "NaN":
        msg = f"Input {what} contains NaN."
        raise ValueError(msg)
    if bad is not None:
        msg = f"Input {what} contains infinity or a value too large for {a.dtype}."
        raise ValueError(msg)


def _beside(a, X, *, xp, device):
    """``a`` as an array next to X: an array must share X's library and device
    (``MixedArrayError`` otherwise); lists and scalars are converted onto it."""
    if is_sparse(X):  # its stored values tell its library and device
        X = X.data
    if array_api_compat.is_array_api_obj(a):
        get_namespace(X, a)
        get_device(X, a)
        return a
    return xp.asarray(np.asarray(a), device=device)


def check_sample_weight(sample_weight, X, *, xp, device):
    """Validate ``sample_weight``; ``None`` means equal weights and stays None.

    Accepts a scalar, a list, or an array of X's library and device, of
    shape ``(n_samples,)``, finite and non-negative with a positive sum.
    Returned in X's dtype.
    """
    if sample_weight is None:
        return None
    n = X.shape[0]
    if isinstance(sample_weight, numbers.Number):
        return xp.full((n,), float(sample_weight), dtype=X.dtype, device=device)
    sw = _beside(sample_weight, X, xp=xp, device=device)
    if sw.ndim != 1 or sw.shape[0] != n:
        msg = f"sample_weight.shape == {tuple(sw.shape)}, expected ({n},)!"
        raise ValueError(msg)
    if not (xp.isdtype(sw.dtype, "real floating") or xp.isdtype(sw.dtype, ("integral", "bool"))):
        msg = f"sample_weight must be real numbers, got dtype {sw.dtype}."
        raise TypeError(msg)
    sw = xp.astype(sw, X.dtype)
    check_finite(sw, xp=xp, what="sample_weight")
    stats = to_numpy(xp.stack([xp.min(sw), xp.sum(sw)]))
    if stats[0] < 0:
        msg = "Negative values in data passed to sample_weight: weights must be >= 0."
        raise ValueError(msg)
    if not stats[1] > 0:
        msg = "sample_weight sums to zero: at least one weight must be positive."
        raise ValueError(msg)
    return sw


def check_centres(centres, X, n_clusters, *, xp, device, what="init"):
    """Validate an explicit array of initial centres against X."""
    if is_sparse_input(centres):  # scikit-learn's check_array(init) message
        msg = _SPARSE_REFUSED.replace(" for X", "")
        raise TypeError(msg)
    C = _beside(centres, X, xp=xp, device=device)
    # scikit-learn's wording (KMeans._validate_center_shape), one message per mismatch.
    shape = tuple(C.shape)
    if C.ndim != 2:
        msg = (
            f"The shape of the initial centers {shape} does not match the expected "
            f"shape ({n_clusters}, {X.shape[1]}): {what} must be a 2D array."
        )
        raise ValueError(msg)
    if C.shape[0] != n_clusters:
        msg = (
            f"The shape of the initial centers {shape} does not match the number of "
            f"clusters {n_clusters}."
        )
        raise ValueError(msg)
    if C.shape[1] != X.shape[1]:
        msg = (
            f"The shape of the initial centers {shape} does not match the number of "
            f"features of the data {X.shape[1]}."
        )
        raise ValueError(msg)
    if xp.isdtype(C.dtype, "complex floating") or not (
        xp.isdtype(C.dtype, "real floating") or xp.isdtype(C.dtype, ("integral", "bool"))
    ):
        msg = f"{what} must be an array of real numbers, got dtype {C.dtype}."
        raise TypeError(msg)
    C = xp.astype(C, X.dtype, copy=True)
    check_finite(C, xp=xp, what=what)
    return C


def check_test_data(estimator, X, method: str, *, fitted: str, what: str | None = None,
                    attributes=None, accept_sparse: bool = False):
    """X for a fitted estimator's ``method``: ``(X, xp, device)``.

    ``check_is_fitted`` (on ``attributes``, scikit-learn's default when None),
    ``check_X`` without reset (``n_features_in_`` must match), then X must
    share the namespace and device of the fitted array ``fitted`` (called
    ``what`` in the message, its name by default).
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, attributes)
    X, xp, device = check_X(estimator, X, reset=False, accept_sparse=accept_sparse)
    check_same_backend(X, getattr(estimator, fitted),
                       where=f"{type(estimator).__name__}.{method}", what=what or fitted)
    return X, xp, device


def check_same_backend(X, fitted, *, where: str, what: str):
    """Raise MixedArrayError unless X shares the namespace and device of the fitted
    array ``what`` (its attribute name, for the message); sparse X is checked
    through its values."""
    try:
        Xv = X.data if is_sparse(X) else X
        get_namespace(Xv, fitted)
        get_device(Xv, fitted)
    except MixedArrayError as e:
        msg = (
            f"Inputs to {where}() must use the same namespace and device as the fitted "
            f"model's {what}. {e}"
        )
        raise MixedArrayError(msg) from e
