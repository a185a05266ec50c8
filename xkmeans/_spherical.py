"""Cosine (spherical) k-means: rows and centres on the unit sphere.

For unit vectors ``|x - c|^2 = 2 - 2 x.c``, so the nearest centre in the
Euclidean sense is the one with the largest dot product (cosine
similarity). Spherical k-means is therefore the Euclidean loop run on
row-normalised data, with each new centre (a mean) scaled back onto the
sphere. These helpers do the normalising and the bookkeeping; the loop is
``_lloyd.lloyd``.

Zero rows have no direction. Rule: they stay zero, are equally similar (0)
to every centre and take label 0 (the lowest index, the project's tie
rule); they add nothing to any centre's sum and are never drawn as initial
centres; their cosine distance to every centre is 1. A centre whose new
mean is the zero vector keeps its previous direction.
"""

from __future__ import annotations

from ._primitives import row_sq_norms, scale_rows

__all__ = ["cosine_from_sq", "unit_centres", "unit_rows", "zero_rows_label"]


def unit_rows(X, *, xp):
    """``(X / |x|, zero)``: rows scaled to unit norm (zero rows kept), and the
    boolean mask of zero rows. Sparse X stays sparse."""
    sq = row_sq_norms(X, xp=xp)
    zero = sq == 0
    one = xp.ones_like(sq)
    scale = one / xp.sqrt(xp.where(zero, one, sq))
    return scale_rows(X, scale, xp=xp), zero


def unit_centres(new, old, *, xp):
    """``new`` rows scaled to unit norm; a zero row keeps ``old``'s direction."""
    sq = xp.sum(new * new, axis=1)
    zero = sq == 0
    scaled = new / xp.sqrt(xp.where(zero, xp.ones_like(sq), sq))[:, None]
    return xp.where(zero[:, None], old, scaled)


def cosine_from_sq(dist2, zero, *, xp):
    """Cosine distances ``1 - x.c`` from squared distances of unit (or zero) rows.

    ``|x - c|^2 = |x|^2 - 2 x.c + 1`` for a unit centre: ``(d + 1 - |x|^2) / 2``,
    i.e. ``d / 2`` for unit rows and ``d`` (= 1) for zero rows.
    """
    if dist2.ndim == 2:
        zero = zero[:, None]
    return xp.where(zero, xp.ones_like(dist2), dist2 / 2)


def zero_rows_label(labels, zero, *, xp):
    """Labels with zero rows set to 0 (every centre is equally similar to them)."""
    return xp.where(zero, xp.zeros_like(labels), labels)


def count_nonzero_rows(zero, *, xp) -> int:
    """Number of rows with a direction (one readback)."""
    return int(xp.sum(xp.astype(~zero, xp.int64)))


def spherical_inputs(X, weights, n_clusters, *, xp):
    """Unit rows for the fit: ``(X_unit, zero, init_weights)``.

    ``init_weights`` keeps zero rows from being drawn as initial centres
    (``weights`` itself when X has none). Raises ``ValueError`` when fewer
    than ``n_clusters`` rows have a direction.
    """
    X, zero = unit_rows(X, xp=xp)
    n_dir = count_nonzero_rows(zero, xp=xp)
    if n_dir < n_clusters:
        msg = (
            f"X has {n_dir} rows with a nonzero norm; metric='cosine' needs at "
            f"least n_clusters={n_clusters} of them (zero rows have no direction)."
        )
        raise ValueError(msg)
    if n_dir == X.shape[0]:
        return X, zero, weights
    keep = xp.astype(~zero, X.dtype)
    return X, zero, keep if weights is None else weights * keep


def unit_init_centres(C, *, what="init", xp):
    """Initial centres scaled onto the unit sphere; a zero row raises ``ValueError``."""
    sq = xp.sum(C * C, axis=1)
    if bool(xp.any(sq == 0)):
        msg = f"{what} has a zero row: metric='cosine' needs initial centres with a direction."
        raise ValueError(msg)
    return C / xp.sqrt(sq)[:, None]


def spherical_result(labels, inertia, zero, weights, *, xp):
    """Final labels (zero rows -> 0) and the cosine inertia ``sum w (1 - x.c)``
    from the Euclidean inertia of unit rows (``|x - c|^2 / 2``; 1 for zero rows)."""
    if weights is None:
        w_zero = float(xp.sum(xp.astype(zero, xp.int64)))
    else:
        w_zero = float(xp.sum(xp.where(zero, weights, xp.zeros_like(weights))))
    return zero_rows_label(labels, zero, xp=xp), (inertia + w_zero) / 2


def cosine_assignment(X, labels, dist2, *, xp):
    """Labels and cosine distances of unit (or zero) rows X from a Euclidean assignment."""
    zero = row_sq_norms(X, xp=xp) == 0
    return zero_rows_label(labels, zero, xp=xp), cosine_from_sq(dist2, zero, xp=xp)
