"""Colour quantization: a small palette for an image, every pixel mapped to it.

The palette is fitted on a random sample of pixels (k-means, or mini-batch
k-means), then every pixel is assigned to its nearest palette colour in
tiles of rows, so memory stays bounded however large the image: the only
full-size arrays are the input image and the output index image.

A batch of images goes through the same three stages (draw the samples, fit
the palettes, assign the pixels), a group of images at a time; the palettes
of a group are fitted together (:func:`_fit_palettes`): on a GPU, the Lloyd
iterations of all of them run in the same kernel launches.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from numbers import Integral

import numpy as np

from ._backend import (
    acc_dtype,
    check_random_state,
    chunk_rows,
    get_device,
    get_namespace,
    is_array,
    itemsize,
    row_chunks,
)
from ._config import get_config
from ._primitives import assign_tile
from ._validation import nonfinite

__all__ = ["DEFAULT_SAMPLE_SIZE", "dequantize", "psnr", "quantize"]

#: Pixels the palette is fitted on by default. On china.jpg and flower.jpg at
#: 16 colours, 8 seeds at this size all gave a PSNR within 0.13 dB of
#: scikit-learn's KMeans fitted on every pixel (whose own seeds spread 0.14 dB),
#: and the fit takes about 0.15 s on one CPU core.
DEFAULT_SAMPLE_SIZE = 65_536

# Pixels per assignment tile. nearest_centre chunks its own scratch (the n x k
# distances, cache-sized on a CPU), so a tile only bounds the float copy of its
# pixels, their labels and distances (about 25 bytes a pixel: 26 MB). Big tiles
# let the primitive's parallel kernel (scikit-learn's OpenMP one on NumPy, a
# CUDA kernel on CuPy) run long: on 2 cores, 65536-pixel tiles made the
# assignment of a 4096 x 4096 image several times slower.
_TILE_PIXELS = 1 << 20

_SHAPE_MSG = "(height, width, 3) or (height, width, 4)"
_BATCH_MSG = ", or a batch of them (a list, or shape (n_images, height, width, 3|4))"


def _check_image(image, name="image"):
    """``(image, xp, device)`` for an H x W x 3|4 uint8 or real float array."""
    if not is_array(image):
        image = np.asarray(image)
    xp = get_namespace(image)
    device = get_device(image)
    dtype_ok = image.dtype == xp.uint8 or xp.isdtype(image.dtype, "real floating")
    _check_shape_and_dtype(image.shape, image.dtype, dtype_ok, name)
    return image, xp, device


def _check_shape_and_dtype(shape, dtype, dtype_ok, name, *, batch_ok=True):
    """An H x W x 3|4 image with pixels, of dtype uint8 or real float (``dtype_ok``)."""
    if len(shape) != 3 or shape[2] not in (3, 4):
        batch = _BATCH_MSG if name == "image" and batch_ok else ""
        msg = f"{name} should be an array of shape {_SHAPE_MSG}{batch}; got shape {tuple(shape)}."
        raise ValueError(msg)
    if not dtype_ok:
        msg = f"{name} should have dtype uint8 or a real floating dtype; got {dtype}."
        raise TypeError(msg)
    if shape[0] * shape[1] == 0:
        msg = f"{name} has no pixels: shape {tuple(shape)}."
        raise ValueError(msg)


def _n_sample(n, n_colors, sample_size, name):
    """Pixels the palette is fitted on: ``sample_size`` (all when None), at most n."""
    m = n if sample_size is None else min(int(sample_size), n)
    if m < n_colors:
        who = "the image" if name == "image" else name
        msg = (
            f"n_colors={n_colors} should be <= the number of sampled pixels "
            f"({m}; {who} has {n}). Use fewer colours or a larger sample_size."
        )
        raise ValueError(msg)
    return m


def _as_batch(image):
    """``(images, kind)``: kind 'single', 'list' (a list or tuple) or 'stacked' (4-D)."""
    if isinstance(image, (list, tuple)):
        if not image:
            msg = f"image is an empty {type(image).__name__}; pass at least one image."
            raise ValueError(msg)
        return list(image), "list"
    if not is_array(image):
        image = np.asarray(image)
    if image.ndim != 4:
        return [image], "single"
    if image.shape[0] == 0:
        msg = f"image holds no images: shape {tuple(image.shape)}."
        raise ValueError(msg)
    return [image[i, ...] for i in range(image.shape[0])], "stacked"


def _check_params(n_colors, method, sample_size, n_init=1):
    if not isinstance(n_colors, Integral) or isinstance(n_colors, bool) or n_colors < 1:
        msg = f"n_colors={n_colors!r} should be an integer >= 1."
        raise ValueError(msg)
    if method not in ("kmeans", "minibatch"):
        msg = f"method={method!r} should be 'kmeans' or 'minibatch'."
        raise ValueError(msg)
    if sample_size is not None and (not isinstance(sample_size, Integral) or sample_size < 1):
        msg = f"sample_size={sample_size!r} should be None or an integer >= 1."
        raise ValueError(msg)
    if n_init != "auto" and (
        not isinstance(n_init, Integral) or isinstance(n_init, bool) or n_init < 1
    ):
        msg = f"n_init={n_init!r} should be 'auto' or an integer >= 1."
        raise ValueError(msg)


def _work_dtype(dtype, xp):
    # uint8 colours and their squared distances are exact enough in float32; so are
    # half-precision ones, whose own arithmetic would lose most digits of the sums.
    return dtype if dtype in (xp.float32, xp.float64) else xp.float32


def _index_dtype(n_colors, xp):
    return xp.uint8 if n_colors <= 256 else xp.int32


@dataclasses.dataclass(frozen=True)
class _Plan:
    """One image, checked: its pixels as rows and what the stages need to know."""

    pixels: object  # (n_pixels, channels), the image's namespace and device
    shape: tuple  # (height, width)
    dtype: object
    xp: object
    device: object
    n_sample: int

    @property
    def work(self):
        return _work_dtype(self.dtype, self.xp)


def _check_finite(image, xp, name):
    """Float pixels must be finite: a NaN would be fitted, or assigned anywhere."""
    if image.dtype == xp.uint8:
        return
    bad = nonfinite(image, xp=xp)
    if bad is not None:
        msg = f"{name} contains {bad}; colour values must be finite numbers."
        raise ValueError(msg)


def _plan(image, name, n_colors, sample_size):
    image, xp, device = _check_image(image, name)
    _check_finite(image, xp, name)
    h, w, c = image.shape
    n = h * w
    m = _n_sample(n, n_colors, sample_size, name)
    return _Plan(xp.reshape(image, (n, c)), (h, w), image.dtype, xp, device, m)


# --- the three stages --------------------------------------------------------------------

def _draw_sample(plan, rng):
    """The pixels a palette is fitted on (colour channels, work dtype) and the fit's seed.

    Indices are drawn on the host (O(sample), not O(n)), sorted for locality
    and moved to the device once.
    """
    xp, pixels = plan.xp, plan.pixels
    n = pixels.shape[0]
    if plan.n_sample == n:
        sample = pixels[:, :3]
    else:
        idx = np.sort(rng.choice(n, size=plan.n_sample, replace=False))
        sample = xp.take(pixels, xp.asarray(idx, device=plan.device), axis=0)[:, :3]
    seed = int(rng.integers(2**31 - 1))
    return xp.astype(sample, plan.work), seed


def _palette_estimator(n_samples, n_colors, method, seed, n_init):
    if method == "kmeans":
        # KMeans(n_colors, random_state=seed, n_init=n_init)'s fit on checked pixels,
        # without importing scikit-learn (seconds of a GPU command's start-up).
        from ._kmeans_core import ArrayKMeans

        # 'auto' is one run for k-means++, as KMeans resolves it.
        return ArrayKMeans(n_colors, random_state=seed, n_init=1 if n_init == "auto" else n_init)
    from ._minibatch import MiniBatchKMeans

    return MiniBatchKMeans(n_clusters=n_colors, batch_size=min(n_samples, 4096),
                           random_state=seed, n_init=n_init)


def _fit_palettes(samples, seeds, n_colors, method, n_init):
    """One palette per sample: ``[(centres, offset)]``, centres in the sample's coordinates.

    Independent k-means problems, each with its own seed, each fitted about
    its mean (``offset``): centring keeps |x|^2 - 2 x.c + |c|^2 accurate in
    float32. K-means palettes are fitted together (``fit_many``: on a GPU the
    Lloyd iterations of all of them run in the same launches); each gets the
    palette its own fit gives.
    """
    xp = get_namespace(samples[0])
    offsets = [xp.mean(s, axis=0) for s in samples]
    centred = [s - o for s, o in zip(samples, offsets)]
    ests = [_palette_estimator(c.shape[0], n_colors, method, seed, n_init)
            for c, seed in zip(centred, seeds)]
    if method == "kmeans":
        from ._kmeans_batch import fit_many

        fit_many(ests, centred)
    else:
        for est, c in zip(ests, centred):
            est.fit(c)
    return [(xp.astype(est.cluster_centers_, s.dtype) + o, o)
            for est, s, o in zip(ests, samples, offsets)]


def _palette(plan, centres, offset):
    """The palette in the image's dtype, and the centred colours pixels are assigned to."""
    xp = plan.xp
    if plan.dtype == xp.uint8:
        palette = xp.astype(xp.clip(xp.round(centres), min=0, max=255), xp.uint8)
        centres = xp.astype(palette, plan.work)
    else:
        palette = xp.astype(centres, plan.dtype)
    return palette, centres - offset


def _assign(plan, centred, offset, *, with_sse, bar):
    """Every pixel's nearest palette colour, in tiles: ``(indices, sse or None)``.

    Each tile is one ``assign_tile`` (cast, centre, nearest colour, squared
    errors; on NumPy all of it on every core). The sum of squared colour
    errors is a 0-d array on the image's device, summed in the widest float.
    """
    xp, pixels, work = plan.xp, plan.pixels, plan.work
    n = pixels.shape[0]
    item = itemsize(xp, work)
    per_pixel = 3 * item + 8 + item + 1  # float copy, int64 labels, distances, index
    rows = chunk_rows(n, per_pixel, cap=_TILE_PIXELS)
    indices = xp.empty((n,), dtype=_index_dtype(centred.shape[0], xp), device=plan.device)
    acc = acc_dtype(xp, plan.device)
    sse = xp.zeros((), dtype=acc, device=plan.device) if with_sse else None
    for a, b in row_chunks(n, rows):
        labels, tile_sse = assign_tile(pixels[a:b, :3], offset, centred, work=work,
                                       index_dtype=indices.dtype, with_sse=with_sse, xp=xp)
        indices[a:b] = labels
        if with_sse:
            sse = sse + tile_sse
        if bar is not None:
            bar.update(b - a)
    return xp.reshape(indices, plan.shape), sse


def _groups(plans):
    """``(start, stop)`` of consecutive images whose samples fit the working memory."""
    biggest = max(p.n_sample * 3 * itemsize(p.xp, p.work) for p in plans)
    per_group = max(1, int(get_config()["working_memory"] * 2**20) // biggest)
    return row_chunks(len(plans), per_group)


def _quantize_batch(images, names, n_colors, *, method, random_state, sample_size, n_init,
                    progress, with_sse):
    """``[(palette, indices, sse or None)]``, one per image, each as if quantized alone.

    ``progress`` is None, 'pixels' (a bar over one image's pixels) or 'images'.
    """
    _check_params(n_colors, method, sample_size, n_init)
    plans = [_plan(im, name, n_colors, sample_size) for im, name in zip(images, names)]
    tqdm = _tqdm_class(progress)  # before any work: a missing tqdm fails fast
    # One generator per image, made in order, as quantizing the images one by
    # one would: a seed gives each image the same draws; a Generator is shared.
    rngs = [check_random_state(random_state) for _ in plans]
    total = plans[0].pixels.shape[0] if progress == "pixels" else len(plans)
    bar = _progress_bar(tqdm, total, progress)
    out = []
    try:
        for a, b in _groups(plans):
            draws = [_draw_sample(p, rng) for p, rng in zip(plans[a:b], rngs[a:b])]
            fits = _fit_palettes([s for s, _ in draws], [seed for _, seed in draws],
                                 n_colors, method, n_init)
            del draws
            for plan, (centres, offset) in zip(plans[a:b], fits):
                palette, centred = _palette(plan, centres, offset)
                pixel_bar = bar if progress == "pixels" else None
                indices, sse = _assign(plan, centred, offset, with_sse=with_sse, bar=pixel_bar)
                out.append((palette, indices, sse))
                if bar is not None and progress == "images":
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out


def _quantize(image, n_colors, *, method, random_state, sample_size, n_init, progress):
    """Palette, indices and the sum of squared colour errors (a 0-d device array)."""
    return _quantize_batch([image], ["image"], n_colors, method=method,
                           random_state=random_state, sample_size=sample_size, n_init=n_init,
                           progress="pixels" if progress else None, with_sse=True)[0]


def _tqdm_class(progress):
    """tqdm's class when a bar is asked for, else None (tqdm is an optional dependency)."""
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as e:
        msg = ("progress=True needs tqdm, an optional dependency: pip install tqdm "
               "(or 'xkmeans[image]'), or pass progress=False.")
        raise ImportError(msg) from e
    return tqdm


def _progress_bar(tqdm, total, what):
    if tqdm is None:
        return None
    kw = ({"unit": "px", "unit_scale": True, "desc": "assigning pixels"} if what == "pixels"
          else {"unit": "img", "desc": "quantizing images"})
    # disable=None: no bar when stderr is not a terminal.
    return tqdm(total=total, file=sys.stderr, disable=None, leave=False, **kw)


def quantize(image, n_colors=16, *, method="kmeans", random_state=0,
             sample_size=DEFAULT_SAMPLE_SIZE, n_init=1, progress=False):
    """Reduce an image, or each image of a batch, to a palette of ``n_colors`` colours.

    Fits k-means on a random sample of pixels, then assigns every pixel to
    its nearest palette colour in tiles of rows (the ``nearest_centre``
    primitive), so memory stays bounded for very large images.

    Parameters
    ----------
    image : array of shape (height, width, 3) or (height, width, 4), or a batch
        RGB or RGBA pixels, dtype uint8 or a real float dtype (floats are
        taken as they are; PSNR assumes the range [0, 1]). Any Array API
        library: NumPy, CuPy, PyTorch, array-api-strict...
        The alpha channel of an RGBA image is **not** clustered: the palette
        holds the 3 colour channels only, and
        ``dequantize(palette, indices, alpha=image[..., 3])`` puts the
        original alpha back.
        A ``dask.array.Array`` image (chunks of any of those libraries) is
        quantized where its chunks are: the sampled pixels are gathered, the
        palette is fitted on them, and ``indices`` come back as a lazy Dask
        array with the image's row and column chunks (the same numbers as
        the in-memory call).
        A batch is a list (or tuple) of such images, whose sizes, channels,
        dtypes and libraries may differ, or one array of shape
        (n_images, height, width, 3 or 4). Each image gets its own palette,
        the one it gets when quantized alone with the same ``random_state``.
    n_colors : int, default=16
        Palette size (k). Indices are uint8 when ``n_colors <= 256``, else
        int32.
    method : {'kmeans', 'minibatch'}, default='kmeans'
        'kmeans': :class:`xkmeans.KMeans` (k-means++, Lloyd) on the sample.
        'minibatch': :class:`xkmeans.MiniBatchKMeans` on the sample, in
        batches of 4096 pixels.
    random_state : int, numpy.random.Generator or None, default=0
        Seeds the one host generator that draws the sample and the
        initial centres: a seed gives the same result on every backend.
        In a batch, a seed seeds every image alike (the result for an image
        does not depend on the others); a Generator is drawn from image after
        image, as quantizing the images one by one in order would.
    sample_size : int or None, default=65536
        Pixels the palette is fitted on (all of them when the image is
        smaller). On china.jpg and flower.jpg at 16 colours this gives a
        PSNR within 0.2 dB of scikit-learn's KMeans fitted on every pixel.
        ``None`` fits on every pixel, which holds a float copy of the image.
    n_init : 'auto' or int, default=1
        Restarts of the palette fit; the lowest inertia wins. ``'auto'`` is
        one run, as ``KMeans`` resolves it for k-means++.
    progress : bool, default=False
        Show a tqdm progress bar on stderr while pixels are assigned (over
        images for a batch; hidden when stderr is not a terminal). tqdm is
        optional (the ``image`` extra installs it); without it
        ``progress=True`` raises ``ImportError`` before any work is done.

    Returns
    -------
    palette : array of shape (n_colors, 3)
        Palette colours: uint8 for uint8 input, else the input's dtype.
        Entries may repeat when the image has fewer than ``n_colors``
        distinct colours.
    indices : array of shape (height, width)
        Palette index of every pixel (uint8 when ``n_colors <= 256``).
        Both are in the image's namespace and on its device.

        For a batch the result follows the input's form: a list (or tuple)
        of images gives a list of ``(palette, indices)`` pairs, one per
        image; an array of shape (n_images, height, width, channels) gives
        ``palettes`` of shape (n_images, n_colors, 3) and ``indices`` of
        shape (n_images, height, width), stacked.

    See Also
    --------
    dequantize : rebuild the image, ``palette[indices]``.
    psnr : peak signal-to-noise ratio between two images.

    Notes
    -----
    Tested on NumPy, array-api-strict (several devices, float32-only ones
    included), PyTorch on the CPU and, where a GPU is present, CuPy. The
    sample's indices are drawn on the host and moved to the device once;
    nothing else goes through the host.

    Memory beyond the image and the indices: the sample
    (``sample_size x 3`` floats) and one assignment tile (at most 1048576
    pixels: their float copy, labels and distances, about 25 bytes a pixel,
    and ``nearest_centre``'s own chunk of distances); no
    ``n_pixels x n_colors`` array is ever held. A batch is fitted a group
    of images at a time, as many samples as the working memory holds.

    On NumPy (and PyTorch CPU tensors) the assignment runs scikit-learn's
    compiled, OpenMP-parallel kernel on every core.

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import quantize, dequantize
    >>> rng = np.random.default_rng(0)
    >>> colours = np.array([[255, 0, 0], [0, 128, 255], [20, 20, 20]], dtype=np.uint8)
    >>> image = colours[rng.integers(3, size=(40, 60))]
    >>> palette, indices = quantize(image, n_colors=3)
    >>> palette.shape, palette.dtype, indices.shape, indices.dtype
    ((3, 3), dtype('uint8'), (40, 60), dtype('uint8'))
    >>> bool((dequantize(palette, indices) == image).all())
    True

    A batch: a list gives a list of pairs, a 4-D array stacked arrays.

    >>> pairs = quantize([image, image[:20]], n_colors=3)
    >>> [p.shape for p, _ in pairs], pairs[1][1].shape
    ([(3, 3), (3, 3)], (20, 60))
    >>> palettes, indices = quantize(np.stack([image, image[::-1]]), n_colors=3)
    >>> palettes.shape, indices.shape
    ((2, 3, 3), (2, 40, 60))
    """
    if type(image).__module__.startswith("dask."):
        _check_params(n_colors, method, sample_size, n_init)
        return _quantize_dask(image, n_colors, method=method, random_state=random_state,
                              sample_size=sample_size, n_init=n_init)
    images, kind = _as_batch(image)
    names = ["image"] if kind == "single" else [f"image[{i}]" for i in range(len(images))]
    results = _quantize_batch(images, names, n_colors, method=method, random_state=random_state,
                              sample_size=sample_size, n_init=n_init, with_sse=False,
                              progress=None if not progress else
                              ("pixels" if kind == "single" else "images"))
    if kind == "single":
        return results[0][:2]
    if kind == "list":
        return [(palette, indices) for palette, indices, _ in results]
    xp = get_namespace(results[0][0])
    return (xp.stack([r[0] for r in results], axis=0),
            xp.stack([r[1] for r in results], axis=0))


def _quantize_dask(image, n_colors, *, method, random_state, sample_size, n_init):
    """A Dask image: the pixels the in-memory call samples are gathered from the
    chunks, the palette is fitted on them where the client is, and the indices
    are a lazy Dask array computed chunk by chunk (the same as in memory)."""
    if math.isnan(image.size):
        msg = (f"image should be a Dask array of known shape {_SHAPE_MSG}; got shape "
               f"{tuple(image.shape)}.")
        raise ValueError(msg)
    dtype = np.dtype(image.dtype)
    _check_shape_and_dtype(image.shape, dtype, dtype == np.uint8 or dtype.kind == "f", "image",
                           batch_ok=False)  # one Dask image, not a batch
    h, w, _ = image.shape
    n = h * w
    m = _n_sample(n, n_colors, sample_size, "image")
    # The draws of _draw_sample, in the same order.
    rng = check_random_state(random_state)
    idx = np.arange(n) if m == n else np.sort(rng.choice(n, size=m, replace=False))
    seed = int(rng.integers(2**31 - 1))
    raw = image.vindex[idx // w, idx % w][:, :3].compute()
    xp, device = get_namespace(raw), get_device(raw)
    _check_finite(raw, xp, "image (its sampled pixels)")
    plan = _Plan(None, (h, w), raw.dtype, xp, device, m)
    work = plan.work
    (centres, offset), = _fit_palettes([xp.astype(raw, work)], [seed], n_colors, method, n_init)
    palette, centred = _palette(plan, centres, offset)
    index_dtype = _index_dtype(n_colors, xp)

    def assign(block):
        bh, bw, c = block.shape
        labels, _ = assign_tile(xp.reshape(block, (bh * bw, c))[:, :3], offset, centred,
                                work=work, index_dtype=index_dtype, with_sse=False, xp=xp)
        return xp.reshape(labels, (bh, bw))

    if len(image.chunks[2]) > 1:
        image = image.rechunk({2: -1})
    meta = xp.empty((0, 0), dtype=index_dtype, device=device)
    return palette, image.map_blocks(assign, drop_axis=2, meta=meta)


def dequantize(palette, indices, alpha=None):
    """Rebuild an image from its palette and indices: ``palette[indices]``.

    Parameters
    ----------
    palette : array of shape (n_colors, n_channels)
    indices : integer array of shape (height, width)
        Same namespace and device as ``palette``.
    alpha : array of shape (height, width), optional
        An alpha channel to append (e.g. ``image[..., 3]`` of the RGBA
        image that was quantized); cast to the palette's dtype.

    Returns
    -------
    image : array of shape (height, width, n_channels) or (height, width, n_channels + 1)
        In the palette's namespace, device and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import dequantize
    >>> palette = np.array([[0, 0, 0], [255, 255, 255]], dtype=np.uint8)
    >>> dequantize(palette, np.array([[0, 1], [1, 0]], dtype=np.uint8))[0].tolist()
    [[0, 0, 0], [255, 255, 255]]
    """
    xp = get_namespace(palette, indices, alpha)
    get_device(palette, indices, alpha)
    h, w = indices.shape
    flat = xp.reshape(indices, (h * w,))
    if not xp.isdtype(flat.dtype, "signed integer"):
        flat = xp.astype(flat, xp.int64)  # take wants a signed index on some backends
    out = xp.reshape(xp.take(palette, flat, axis=0), (h, w, palette.shape[1]))
    if alpha is not None:
        out = xp.concat([out, xp.astype(alpha, palette.dtype)[:, :, None]], axis=2)
    return out


def psnr(image, reference, *, data_range=None):
    """Peak signal-to-noise ratio between two images, in dB.

    Parameters
    ----------
    image, reference : arrays of the same shape
        Same namespace and device.
    data_range : float, optional
        Peak value: 255 for uint8 input, 1.0 for floats by default.

    Returns
    -------
    psnr : float
        ``10 log10(data_range^2 / MSE)``; ``inf`` for identical images.

    Examples
    --------
    >>> import numpy as np
    >>> from xkmeans import psnr
    >>> a = np.zeros((4, 4, 3), dtype=np.uint8)
    >>> round(psnr(a + 1, a), 2)
    48.13
    """
    xp = get_namespace(image, reference)
    device = get_device(image, reference)
    if tuple(image.shape) != tuple(reference.shape):
        msg = (
            "image and reference should have the same shape; got "
            f"{tuple(image.shape)} and {tuple(reference.shape)}."
        )
        raise ValueError(msg)
    if data_range is None:
        data_range = 255.0 if image.dtype == xp.uint8 else 1.0
    acc = acc_dtype(xp, device)
    n = math.prod(image.shape)
    a = xp.reshape(image, (n,))
    b = xp.reshape(reference, (n,))
    rows = chunk_rows(n, 4 * itemsize(xp, acc), cap=1 << 20)
    sse = xp.zeros((), dtype=acc, device=device)
    for s, e in row_chunks(n, rows):
        d = xp.astype(a[s:e], acc) - xp.astype(b[s:e], acc)
        sse = sse + xp.sum(d * d)
    return _psnr_from_sse(float(sse), n, data_range)


def _psnr_from_sse(sse, n_values, data_range):
    if sse == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 * n_values / sse)
