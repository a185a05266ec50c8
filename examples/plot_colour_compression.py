"""
===============================================
Colour compression: a photo in sixteen colours
===============================================

Colour quantization is k-means' classic demonstration. Every pixel of a photo
is a point in a 3-D colour space (red, green, blue); k-means with k = 16
finds 16 centres, which become the image's *palette*, and every pixel is
replaced by its nearest palette colour. The result can be stored as an
indexed image: 4 bits per pixel instead of 24.

:func:`xkmeans.quantize` does the fit and the assignment; it takes an image
in any array library (a CuPy array runs on the GPU) and returns the palette
and the palette index of every pixel. :func:`xkmeans.dequantize` rebuilds the
image from the two, and :func:`xkmeans.psnr` measures how close it is to the
original.
"""

# %%
# The photo and its pixels in colour space
# ----------------------------------------
import io
import os

import matplotlib.pyplot as plt
import numpy as np
import sklearn.datasets
from PIL import Image
from sklearn.datasets import load_sample_image

import xkmeans

china = load_sample_image("china.jpg")
height, width, _ = china.shape
print(f"china.jpg: {width} x {height} pixels, {height * width:,} pixels, {china.dtype}")

palette, indices = xkmeans.quantize(china, n_colors=16, random_state=0)
compressed = xkmeans.dequantize(palette, indices)
print(f"palette: {palette.shape} {palette.dtype}; indices: {indices.shape} {indices.dtype}")
print(f"distinct colours: {len(np.unique(china.reshape(-1, 3), axis=0)):,} in the photo, "
      f"{len(np.unique(compressed.reshape(-1, 3), axis=0))} after quantization")

# %%
# A random sample of the pixels, drawn at their own colour, seen from two
# sides of the RGB cube. The photo's colours do not fill the cube: they crowd
# along the grey diagonal (the sky at its bright end), with arms towards red
# (the roofs) and brown-green (the trees). The black-ringed dots are the 16 palette colours k-means chose: they sit where
# the pixels are dense.
rng = np.random.default_rng(0)
sample = china.reshape(-1, 3)[rng.choice(height * width, size=5000, replace=False)]
names = "RGB"
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
for ax, (i, j) in zip(axes, [(0, 1), (0, 2)]):
    ax.scatter(sample[:, i], sample[:, j], c=sample / 255, s=4, alpha=0.6)
    ax.scatter(palette[:, i], palette[:, j], c=palette / 255, s=140, edgecolors="k",
               linewidths=1.5)
    ax.set(xlabel=f"{names[i]} (0-255)", ylabel=f"{names[j]} (0-255)",
           xlim=(0, 255), ylim=(0, 255), aspect="equal",
           title=f"pixels and palette, {names[i]}-{names[j]} projection")
fig.tight_layout()

# %%
# Before and after
# ----------------
# Sixteen colours keep the picture recognisable; the losses show in smooth
# gradients (the sky), which become bands.
quality = xkmeans.psnr(compressed, china)
print(f"PSNR of the 16-colour image: {quality:.2f} dB")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.4))
ax0.imshow(china)
ax0.set(title="original (JPEG, 24-bit colour)", xticks=[], yticks=[])
ax1.imshow(compressed)
ax1.set(title=f"16 colours: PSNR {quality:.1f} dB", xticks=[], yticks=[])
fig.tight_layout()

# %%
# The palette itself, ordered by brightness:
order = np.argsort(palette.astype(np.float64) @ [0.299, 0.587, 0.114])
fig, ax = plt.subplots(figsize=(8, 1.2))
ax.imshow(palette[order][None], aspect="auto")
ax.set(xticks=range(16), yticks=[], title="the 16-colour palette")
fig.tight_layout()

# %%
# File sizes
# ----------
# PSNR (peak signal-to-noise ratio) is ``10 log10(255^2 / MSE)``: every 6 dB
# halves the typical error of a pixel value. What the palette buys is size: an
# indexed PNG stores one 4-bit index per pixel plus a 16-entry palette, where
# a true-colour PNG stores 24 bits per pixel.


def png_bytes(image: Image.Image) -> int:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getbuffer().nbytes


indexed = Image.frombytes("P", (width, height), np.asarray(indices, dtype=np.uint8).tobytes())
indexed.putpalette(np.asarray(palette, dtype=np.uint8).ravel().tolist())
assert np.array_equal(np.asarray(indexed.convert("RGB")), compressed)

jpeg_path = os.path.join(os.path.dirname(sklearn.datasets.__file__), "images", "china.jpg")
sizes = {
    "raw RGB pixels": china.nbytes,
    "original JPEG (lossy)": os.path.getsize(jpeg_path),
    "original as PNG (lossless)": png_bytes(Image.fromarray(china)),
    "16 colours, true-colour PNG": png_bytes(Image.fromarray(compressed)),
    "16 colours, indexed PNG": png_bytes(indexed),
}
for name, n in sizes.items():
    print(f"{name:<30}{n / 1024:8.0f} KiB  ({8 * n / (height * width):5.2f} bits per pixel)")

fig, ax = plt.subplots(figsize=(7, 2.6))
ax.barh(list(sizes), [n / 1024 for n in sizes.values()], color="C0")
ax.invert_yaxis()
ax.set(xlabel="KiB", title="china.jpg, stored five ways")
fig.tight_layout()

# %%
# The same from the command line, with the PNG written for you:
#
# .. code-block:: console
#
#    $ xkmeans quantize -k 16 -o china-k16.png
#
# On a GPU, pass a CuPy array to :func:`xkmeans.quantize` (or use
# ``--device gpu``): the palette and the indices stay on the device, and a
# given ``random_state`` gives the same palette as on the CPU.
