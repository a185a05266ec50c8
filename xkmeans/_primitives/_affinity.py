"""Affinity propagation's message update in pure Array API: the default and the oracle.

One pass over the rows of the n x n matrices (availabilities A,
responsibilities R, similarities S), in row chunks, with scikit-learn's
arithmetic in its order. The NumPy fast path (``_affinity_numpy``) does the
same operations in place and must give the same numbers.
"""

from __future__ import annotations

from .._backend import row_chunks

__all__ = ["affinity_row_norms", "affinity_sweep", "diag_block", "eye", "set_diag_block"]


def eye(r, *, xp, device):
    """Boolean identity of size r (the diagonal of an r-row chunk's own block)."""
    i = xp.arange(r, device=device)
    return i[:, None] == i[None, :]


def diag_block(M, a, b, *, xp, eye):
    """Diagonal entries of rows a:b of an n x n matrix, from their r x r block."""
    return xp.sum(xp.where(eye, M[:, a:b], 0), axis=1)


def set_diag_block(M, a, b, values, *, xp, eye):
    """Rows a:b (a chunk the caller owns) with their diagonal set to ``values``."""
    M[:, a:b] = xp.where(eye, values[:, None], M[:, a:b])
    return M


def affinity_sweep(S, A, R, colsum, damping, *, update_a, update_r, rows, xp, device):
    """One pass over the rows: availabilities from ``colsum``, then responsibilities.

    Parameters
    ----------
    S : array of shape (n, n)
        Similarities, preferences on the diagonal.
    A, R : arrays of shape (n, n), float (the widest the device offers)
        Availabilities and responsibilities, updated in place (row slices).
    colsum : array of shape (n,) or None
        Column sums of R's positive part (its diagonal kept whole), from the
        pass that produced R; needed when ``update_a``.
    damping : float
    update_a, update_r : bool
        With ``update_a`` the rows of A become the new availabilities; with
        ``update_r`` the rows of R then become the next responsibilities
        (from S and the new A) and their column sums are accumulated.
        Merging the two reads each matrix once per iteration.
    rows : int
        Rows per chunk.

    Returns
    -------
    diag_a, diag_r, colsum : arrays of shape (n,) or None
        The diagonals of the updated A and R, and the column sums for the
        next availabilities (None for what was not updated).
    """
    n = S.shape[0]
    acc = A.dtype
    cols = xp.arange(n, device=device)
    neg_inf = xp.asarray(-xp.inf, dtype=acc, device=device)
    diag_a, diag_r = [], []
    new_colsum = xp.zeros((n,), dtype=acc, device=device) if update_r else None
    for a, b in row_chunks(n, rows):
        e = eye(b - a, xp=xp, device=device)
        if update_a:
            Rc = R[a:b, :]
            # -(new availabilities): positive part of R (its diagonal kept)
            # minus the column sums, clipped at 0 off the diagonal.
            dA = diag_block(Rc, a, b, xp=xp, eye=e) - colsum[a:b]
            T = xp.maximum(xp.maximum(Rc, 0.0) - colsum[None, :], 0.0)
            T = set_diag_block(T, a, b, dA, xp=xp, eye=e)
            Ac = A[a:b, :] * damping - T * (1 - damping)
            A[a:b, :] = Ac
            diag_a.append(diag_block(Ac, a, b, xp=xp, eye=e))
        else:
            Ac = A[a:b, :]
        if update_r:
            Sc = S[a:b, :]
            T = Ac + Sc
            best = xp.argmax(T, axis=1)
            Y = xp.take_along_axis(T, best[:, None], axis=1)
            is_best = cols[None, :] == best[:, None]
            Y2 = xp.max(xp.where(is_best, neg_inf, T), axis=1, keepdims=True)
            Rc = R[a:b, :] * damping + (Sc - xp.where(is_best, Y2, Y)) * (1 - damping)
            R[a:b, :] = Rc
            diag_r.append(diag_block(Rc, a, b, xp=xp, eye=e))
            Rp = set_diag_block(xp.maximum(Rc, 0.0), a, b, diag_r[-1], xp=xp, eye=e)
            # The running sums first, then the rows in order: NumPy-based
            # backends then add exactly as scikit-learn's ``sum(axis=0)``.
            new_colsum = xp.sum(xp.concat([new_colsum[None, :], Rp]), axis=0)

    def cat(parts):
        return parts[0] if len(parts) == 1 else xp.concat(parts)

    return (cat(diag_a) if update_a else None, cat(diag_r) if update_r else None, new_colsum)


def affinity_row_norms(X, *, xp):
    """``|x|^2`` of every row (the similarities' norms; NumPy matches scikit-learn's einsum)."""
    return xp.sum(X * X, axis=1)
