"""Colour quantization: quality against scikit-learn, exactness, backends, alpha."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.cluster import KMeans as SKKMeans
from sklearn.datasets import load_sample_image

from xkmeans import dequantize, psnr, quantize
from xkmeans._primitives import nearest_centre
from xkmeans.quantize import DEFAULT_SAMPLE_SIZE


def _five_colours(h=48, w=64, seed=0):
    colours = np.array([[255, 0, 0], [0, 128, 255], [20, 20, 20], [250, 250, 240],
                        [30, 200, 60]], dtype=np.uint8)
    lab = np.random.default_rng(seed).integers(5, size=(h, w))
    return colours[lab], colours


@pytest.mark.parametrize("name", ["china.jpg", "flower.jpg"])
def test_psnr_within_0_2_db_of_sklearn_full_fit(name):
    # Reference: scikit-learn's KMeans fitted on EVERY pixel (not the sample),
    # its centres rounded to uint8 like ours, every pixel assigned to them.
    # Which local optimum one seed reaches depends on float rounding (BLAS
    # kernel, CPU), so both sides are averaged over three seeds.
    img = load_sample_image(name)
    X = img.reshape(-1, 3).astype(np.float32)
    ref_db, ours_db = [], []
    for seed in range(3):
        ref = SKKMeans(16, random_state=seed).fit(X)
        pal_ref = np.clip(np.rint(ref.cluster_centers_), 0, 255).astype(np.uint8)
        lab_ref, _ = nearest_centre(X, pal_ref.astype(np.float32), xp=np)
        ref_db.append(psnr(pal_ref[lab_ref].reshape(img.shape), img))
        palette, indices = quantize(img, 16, random_state=seed)
        ours_db.append(psnr(dequantize(palette, indices), img))
    assert np.mean(ours_db) >= np.mean(ref_db) - 0.2, (ours_db, ref_db)


def test_palette_and_indices_types():
    img = load_sample_image("china.jpg")[:100, :120]
    palette, indices = quantize(img, 7)
    assert palette.shape == (7, 3) and palette.dtype == np.uint8
    assert indices.shape == (100, 120) and indices.dtype == np.uint8
    assert int(indices.max()) < 7
    # Every pixel is mapped to its nearest palette colour.
    d = ((img[:, :, None, :].astype(np.int64) - palette[None, None].astype(np.int64)) ** 2).sum(-1)
    np.testing.assert_array_equal(d.min(axis=-1), np.take_along_axis(
        d, indices[:, :, None].astype(np.int64), axis=-1)[:, :, 0])


def test_five_colours_reproduced_exactly():
    img, colours = _five_colours()
    palette, indices = quantize(img, 5)
    np.testing.assert_array_equal(dequantize(palette, indices), img)
    assert {tuple(c) for c in palette} == {tuple(c) for c in colours}
    assert psnr(dequantize(palette, indices), img) == np.inf


def test_deterministic_for_a_seed_and_sample_matters():
    img = load_sample_image("flower.jpg")[::2, ::2]
    p1, i1 = quantize(img, 8, random_state=3, sample_size=5000)
    p2, i2 = quantize(img, 8, random_state=3, sample_size=5000)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(i1, i2)


def test_tiles_give_the_same_result_as_one_block():
    img = load_sample_image("china.jpg")[::3, ::3]
    import xkmeans

    p1, i1 = quantize(img, 12, random_state=1)
    with xkmeans.config_context(working_memory=0.05):  # tiles of a few hundred pixels
        p2, i2 = quantize(img, 12, random_state=1)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(i1, i2)


def test_more_than_256_colours_gives_wider_indices():
    img = np.random.default_rng(0).integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    palette, indices = quantize(img, 300, sample_size=None)
    assert palette.shape == (300, 3)
    assert indices.dtype == np.int32 and int(indices.max()) < 300


def test_rgba_alpha_is_kept_not_clustered():
    rgb, _ = _five_colours()
    alpha = np.random.default_rng(1).integers(0, 256, size=rgb.shape[:2], dtype=np.uint8)
    img = np.concatenate([rgb, alpha[:, :, None]], axis=2)
    palette, indices = quantize(img, 5)
    assert palette.shape == (5, 3)
    np.testing.assert_array_equal(dequantize(palette, indices, alpha=img[..., 3]), img)


def test_float_image_in_its_dtype():
    img, _ = _five_colours()
    f = img.astype(np.float32) / 255
    palette, indices = quantize(f, 5)
    assert palette.dtype == np.float32
    # float32 centres: NumPy's fused Lloyd step sums in float32, as scikit-learn does.
    np.testing.assert_allclose(dequantize(palette, indices), f, atol=1e-5)


@pytest.mark.parametrize(("image", "kwargs", "err", "match"), [
    (np.zeros((4, 4), np.uint8), {}, ValueError, "height, width, 3"),
    (np.zeros((4, 4, 2), np.uint8), {}, ValueError, "height, width, 3"),
    (np.zeros((4, 4, 3), np.int16), {}, TypeError, "uint8 or a real floating"),
    (np.zeros((4, 4, 3), np.uint8), {"n_colors": 0}, ValueError, "n_colors=0"),
    (np.zeros((4, 4, 3), np.uint8), {"n_colors": 17}, ValueError, "n_colors=17 should be <="),
    (np.zeros((4, 4, 3), np.uint8), {"method": "elkan"}, ValueError, "method='elkan'"),
    (np.zeros((4, 4, 3), np.uint8), {"sample_size": 0}, ValueError, "sample_size=0"),
])
def test_invalid_input(image, kwargs, err, match):
    with pytest.raises(err, match=match):
        quantize(image, **{"n_colors": 2, **kwargs})


def test_library_api_follows_the_backend(backend):
    img, _ = _five_colours(24, 32)
    expected_p, expected_i = quantize(img, 5, random_state=2)

    # uint8 image on the backend: uint8 palette, same answer as NumPy.
    palette, indices = quantize(backend.asarray(img), 5, random_state=2)
    backend.check_array(palette, dtype="uint8", shape=(5, 3))
    backend.check_array(indices, dtype="uint8", shape=(24, 32))
    np.testing.assert_array_equal(backend.to_numpy(palette), expected_p)
    np.testing.assert_array_equal(backend.to_numpy(indices), expected_i)
    rebuilt = dequantize(palette, indices)
    backend.check_array(rebuilt, dtype="uint8", shape=img.shape)
    np.testing.assert_array_equal(backend.to_numpy(rebuilt), img)

    # Float image in the backend's dtype: palette in that dtype.
    f = backend.asarray(img.astype(np.float64) / 255)
    f_before = backend.to_numpy(f).copy()
    palette, indices = quantize(f, 5, random_state=2)
    np.testing.assert_array_equal(backend.to_numpy(f), f_before)  # tiles centred in a copy
    backend.check_array(palette, dtype=backend.dtype, shape=(5, 3))
    backend.check_array(indices, dtype="uint8", shape=(24, 32))
    np.testing.assert_allclose(backend.to_numpy(dequantize(palette, indices)),
                               img / 255, atol=backend.rtol)
    assert psnr(dequantize(palette, indices), f) > 60


def test_minibatch_method():
    img = load_sample_image("china.jpg")
    palette, indices = quantize(img, 16, method="minibatch", random_state=0)
    assert palette.shape == (16, 3) and indices.dtype == np.uint8
    p_km, i_km = quantize(img, 16, random_state=0)
    assert psnr(dequantize(palette, indices), img) >= psnr(dequantize(p_km, i_km), img) - 0.5
    p2, i2 = quantize(img, 16, method="minibatch", random_state=0)
    np.testing.assert_array_equal(palette, p2)
    np.testing.assert_array_equal(indices, i2)


def test_default_sample_size_documented():
    assert DEFAULT_SAMPLE_SIZE == 65536
    assert "65536" in quantize.__doc__



def test_progress_without_tqdm_is_a_clear_import_error(monkeypatch):
    # tqdm is optional: progress=False never needs it; progress=True without it says what
    # to install, before any work is done.
    q = sys.modules["xkmeans.quantize"]
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    image, _ = _five_colours()
    palette, indices = quantize(image, 5)
    np.testing.assert_array_equal(dequantize(palette, indices), image)
    monkeypatch.setattr(q, "_fit_palettes", lambda *a, **k: pytest.fail("fitted without tqdm"))
    with pytest.raises(ImportError, match=r"progress=True needs tqdm.*pip install tqdm"):
        quantize(image, 5, progress=True)


# --- batches: one palette per image, each as if quantized alone ---------------------------

def _batch_images():
    """Three small images of different sizes, the last RGBA."""
    a, _ = _five_colours(24, 32, seed=1)
    b = load_sample_image("china.jpg")[100:130:2, 200:260:2]  # 15 x 30, many colours
    rgb, _ = _five_colours(20, 18, seed=2)
    alpha = np.random.default_rng(3).integers(0, 256, size=(20, 18, 1), dtype=np.uint8)
    return [a, np.ascontiguousarray(b), np.concatenate([rgb, alpha], axis=2)]


def test_batch_equals_each_image_alone(backend):
    images = [backend.asarray(im) for im in _batch_images()]
    kw = {"n_colors": 5, "random_state": 7, "sample_size": 300}
    pairs = quantize(images, **kw)
    assert isinstance(pairs, list) and len(pairs) == 3
    for image, (palette, indices) in zip(images, pairs):
        backend.check_array(palette, dtype="uint8", shape=(5, 3))
        backend.check_array(indices, dtype="uint8", shape=image.shape[:2])
        p1, i1 = quantize(image, **kw)
        np.testing.assert_array_equal(backend.to_numpy(palette), backend.to_numpy(p1))
        np.testing.assert_array_equal(backend.to_numpy(indices), backend.to_numpy(i1))
    # One (N, H, W, C) array: stacked results, each image's own palette.
    stack = backend.asarray(np.stack([_five_colours(16, 12, seed=s)[0] for s in range(3)]))
    palettes, indices = quantize(stack, **kw)
    backend.check_array(palettes, dtype="uint8", shape=(3, 5, 3))
    backend.check_array(indices, dtype="uint8", shape=(3, 16, 12))
    for i in range(3):
        p1, i1 = quantize(stack[i, ...], **kw)
        np.testing.assert_array_equal(backend.to_numpy(palettes)[i], backend.to_numpy(p1))
        np.testing.assert_array_equal(backend.to_numpy(indices)[i], backend.to_numpy(i1))


def test_batch_with_a_generator_draws_image_after_image():
    # A shared Generator: the same as quantizing the images one by one in order, and the
    # groups the working memory cuts the batch into do not change that.
    import warnings

    import xkmeans

    images = _batch_images()
    kw = {"n_colors": 4, "sample_size": 200}
    rng = np.random.default_rng(5)
    expected = [quantize(im, random_state=rng, **kw) for im in images]
    with warnings.catch_warnings(), xkmeans.config_context(working_memory=0.005):
        warnings.simplefilter("ignore", RuntimeWarning)  # tiny chunks in the fit
        got = quantize(tuple(images), random_state=np.random.default_rng(5), **kw)
    for (p, i), (pe, ie) in zip(got, expected):
        np.testing.assert_array_equal(p, pe)
        np.testing.assert_array_equal(i, ie)


@pytest.mark.parametrize(("images", "match"), [
    ([], "empty list"),
    (np.zeros((0, 4, 4, 3), np.uint8), "holds no images"),
    ([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8)],
     r"image\[1\] should be an array of shape \(height, width, 3\)"),
    ([np.zeros((8, 8, 3), np.uint8), np.zeros((2, 2, 3), np.uint8)],
     r"n_colors=5 should be <= .* image\[1\] has 4"),
])
def test_invalid_batch(images, match, monkeypatch):
    q = sys.modules["xkmeans.quantize"]
    monkeypatch.setattr(q, "_fit_palettes", lambda *a, **k: pytest.fail("fitted a bad batch"))
    with pytest.raises(ValueError, match=match):
        quantize(images, 5)


def test_batch_progress_bar_counts_images(monkeypatch):
    q = sys.modules["xkmeans.quantize"]
    bars = []

    class FakeBar:
        def __init__(self, **kw):
            self.kw, self.n, self.closed = kw, 0, False
            bars.append(self)

        def update(self, n):
            self.n += n

        def close(self):
            self.closed = True

    monkeypatch.setattr(q, "_tqdm_class", lambda progress: FakeBar if progress else None)
    quantize(_batch_images(), 4, progress=True)
    assert [(b.kw["total"], b.kw["unit"], b.n, b.closed) for b in bars] == [(3, "img", 3, True)]
    img = _batch_images()[0]
    quantize(img, 4, progress=True)
    assert (bars[1].kw["unit"], bars[1].n) == ("px", img.shape[0] * img.shape[1])


def test_squared_error_is_the_images(backend):
    # The command's PSNR comes from this sum: nearest_centre's distances, summed per tile.
    from xkmeans.quantize import _quantize

    img = _batch_images()[1]
    palette, indices, sse = _quantize(backend.asarray(img), 6, method="kmeans", random_state=0,
                                      sample_size=None, n_init=1, progress=False)
    diff = dequantize(backend.to_numpy(palette), backend.to_numpy(indices)).astype(float) - img
    assert float(sse) == pytest.approx(float((diff**2).sum()), rel=1e-4)


# --- the palette fit without scikit-learn -------------------------------------------------

@pytest.mark.parametrize("n_init", [1, 3])
def test_palette_fit_is_kmeans_on_the_same_pixels(backend, n_init):
    # quantize fits palettes with ArrayKMeans (no scikit-learn import): the same centres,
    # labels, inertia and iterations as KMeans with the same parameters, bit for bit.
    from xkmeans import KMeans
    from xkmeans._kmeans_core import ArrayKMeans

    pixels = load_sample_image("china.jpg")[::8, ::8].reshape(-1, 3).astype(backend.dtype)
    X = backend.asarray(pixels)
    ours = ArrayKMeans(6, random_state=3, n_init=n_init).fit(X)
    ref = KMeans(6, random_state=3, n_init=n_init).fit(X)
    backend.check_array(ours.cluster_centers_, dtype=backend.dtype, shape=(6, 3))
    np.testing.assert_array_equal(backend.to_numpy(ours.cluster_centers_),
                                  backend.to_numpy(ref.cluster_centers_))
    np.testing.assert_array_equal(backend.to_numpy(ours.labels_), backend.to_numpy(ref.labels_))
    assert ours.inertia_ == ref.inertia_ and ours.n_iter_ == ref.n_iter_


def test_import_and_quantize_off_numpy_do_not_import_scikit_learn():
    # scikit-learn costs 1-2 s to import: the command starts without it, and a GPU
    # (here array-api-strict) image is quantized without it.
    import subprocess

    code = (
        "import sys, numpy as np\n"
        "import xkmeans\n"
        "assert 'sklearn' not in sys.modules, 'import xkmeans'\n"
        "import array_api_strict as xs\n"
        "img = xs.asarray(np.random.default_rng(0).integers(0, 256, (40, 30, 3), np.uint8))\n"
        "p, i = xkmeans.quantize(img, 4, random_state=0)\n"
        "assert 'sklearn' not in sys.modules, 'quantize'\n"
        "assert xkmeans.KMeans.__name__ == 'KMeans' and 'sklearn' in sys.modules\n"
    )
    pytest.importorskip("array_api_strict")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("value,what", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_float_image_must_be_finite(monkeypatch, value, what):
    q = sys.modules["xkmeans.quantize"]
    monkeypatch.setattr(q, "_fit_palettes", lambda *a, **k: pytest.fail("fitted a bad image"))
    image = np.full((20, 30, 3), 0.5)
    image[13, 2, 1] = value  # one pixel, most likely outside the sample
    with pytest.raises(ValueError, match=f"image contains {what}; colour values must be fin"):
        quantize(image, 4, sample_size=50)


@pytest.mark.parametrize("n_init", [0, 1.5, "one", True])
def test_bad_n_init(n_init):
    with pytest.raises(ValueError, match=r"n_init=.* should be 'auto' or an integer >= 1"):
        quantize(_five_colours()[0], 3, n_init=n_init)


def test_n_init_auto_is_one_run():
    image = _five_colours()[0]
    for method in ("kmeans", "minibatch"):
        auto = quantize(image, 3, n_init="auto", method=method, random_state=2)
        one = quantize(image, 3, n_init=1, method=method, random_state=2)
        for a, b in zip(auto, one):
            np.testing.assert_array_equal(a, b)


def test_half_precision_image_is_fitted_in_float32():
    # float16 pixels are fitted and assigned in float32 (half precision's own sums would
    # lose most digits); the palette comes back in float16, as the image.
    rng = np.random.default_rng(0)
    colours = rng.random((4, 3))
    image = (colours[rng.integers(4, size=(30, 20))]).astype(np.float16)
    palette, indices = quantize(image, 4, random_state=0)
    assert palette.dtype == np.float16 and indices.dtype == np.uint8
    assert psnr(dequantize(palette, indices), image) > 60
    p32, i32 = quantize(image.astype(np.float32), 4, random_state=0)
    np.testing.assert_array_equal(indices, i32)
    np.testing.assert_array_equal(palette, p32.astype(np.float16))
