"""quantize on a chunked (Dask) image: the in-memory result, computed chunk by chunk."""

from __future__ import annotations

import numpy as np
import pytest

import xkmeans

da = pytest.importorskip("dask.array", reason="dask is an optional extra (xkmeans[dask])")
dask = pytest.importorskip("dask")


def _image(h=131, w=97, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 1, (h, w, channels)) ** 2 * 255).astype(np.uint8)


@pytest.mark.parametrize("chunks", [(64, 40, 3), (50, 97, 1), (131, 97, 3)])
@pytest.mark.parametrize("sample_size", [2000, None])
def test_same_palette_and_indices_as_in_memory(chunks, sample_size):
    img = _image()
    palette, indices = xkmeans.quantize(img, 8, sample_size=sample_size, random_state=3)
    d_palette, d_indices = xkmeans.quantize(da.from_array(img, chunks=chunks), 8,
                                            sample_size=sample_size, random_state=3)
    assert isinstance(d_indices, da.Array)  # lazy
    assert d_indices.shape == (131, 97) and d_indices.chunks[0] == da.from_array(
        img, chunks=chunks).chunks[0]
    np.testing.assert_array_equal(d_palette, palette)
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(d_indices.compute(), indices)


def test_float_rgba_image():
    img = _image(channels=4).astype(np.float32) / 255
    palette, indices = xkmeans.quantize(img, 5, sample_size=None)
    d_palette, d_indices = xkmeans.quantize(da.from_array(img, chunks=(40, 40, 4)), 5,
                                            sample_size=None)
    np.testing.assert_allclose(d_palette, palette)
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(d_indices.compute(), indices)


def test_bad_dask_images_are_refused_clearly():
    with pytest.raises(ValueError, match=r"shape \(height, width, 3\)"):
        xkmeans.quantize(da.zeros((10, 10), dtype=np.uint8), 2)
    with pytest.raises(TypeError, match="dtype uint8 or a real floating"):
        xkmeans.quantize(da.zeros((10, 10, 3), dtype=np.int64), 2)
    with pytest.raises(ValueError, match="n_colors=8 should be <="):
        xkmeans.quantize(da.zeros((2, 2, 3), dtype=np.uint8), 8)


def test_nan_in_the_sampled_pixels_is_refused():
    image = np.full((20, 20, 3), 0.5)
    image[3, 4, 0] = np.nan
    with pytest.raises(ValueError, match=r"image \(its sampled pixels\) contains NaN"):
        xkmeans.quantize(da.from_array(image, chunks=(10, 10, 3)), 2, sample_size=None)
