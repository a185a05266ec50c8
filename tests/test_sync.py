"""Host-device synchronisation stays bounded (needs PyTorch on CUDA)."""

import warnings

import numpy as np
import pytest
from conftest import blobs

from xkmeans import KMeans

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _count_syncs(fn):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            out = fn()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    return out, sum("synchroniz" in str(w.message).lower() for w in rec)


def test_fit_syncs_about_once_per_iteration_and_predict_once():
    X = torch.asarray(blobs(n=20_000, d=3, centres=8, seed=0)[0], device="cuda")
    km, n_fit = _count_syncs(lambda: KMeans(8, random_state=0, tol=0, max_iter=30).fit(X))
    # Validation, tolerance and the end-of-fit checks cost a handful.
    assert n_fit <= km.n_iter_ + 12, (n_fit, km.n_iter_)
    _, n_pred = _count_syncs(lambda: km.predict(X))
    assert n_pred <= 1  # the NaN/inf check on X
    np.testing.assert_array_equal(km.labels_.cpu().numpy(), km.predict(X).cpu().numpy())
