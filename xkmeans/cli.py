"""The ``xkmeans`` command: ``xkmeans quantize [INPUT ...] [-k N] [-o OUTPUT] ...``.

Exit status: 0 on success, 2 for usage errors (bad option values, a missing
input file, an output that would overwrite the input or whose folder does
not exist), 1 when the work itself fails (an input that is not a readable
image, an output that cannot be written, a GPU that is not there). With
several inputs, an image that fails is reported and skipped, the others are
written, and the status is 1 at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import tempfile
import time

import numpy as np

from ._backend import cupy_device, namespace_for_device, to_numpy

__all__ = ["main"]

PROG = "xkmeans"

# zlib strategies Pillow's PNG encoder takes as ``compress_type``.
_ZLIB_STRATEGIES = {"default": 0, "filtered": 1, "huffman": 2, "rle": 3}

_QUANTIZE_HELP = """\
Reduce an image to a palette of N colours with k-means and write it as an
indexed (palette, mode 'P') PNG, which is much smaller than the original:
a 16-colour PNG stores 4 bits per pixel before compression.

The palette is fitted on a random sample of --sample-size pixels; then every
pixel is mapped to its nearest palette colour in tiles of rows. An alpha
channel is kept, not clustered.

Memory: besides Python, NumPy and scikit-learn (about 120 MB), the peak is
while decoding: Pillow's copy of the image (4 bytes per pixel) and the array
it becomes (3 bytes per pixel for RGB, 4 for RGBA), copied in strips. After
that: the array, the index image (1 byte per pixel) and a working set of
some 30 MB (the pixel sample and one tile of up to 1M pixels, about 25 bytes
each). A 4096 x 4096 photo (16.7 Mpixels, 50 MB decoded) peaks at about
250 MB resident in all. The largest image is set by free memory: about
8 bytes per pixel, i.e. some 120 Mpixels per GB. With --device gpu the
array and the indices also live on the GPU (4 bytes per pixel of GPU
memory).

Printed: palette size, PSNR (dB, colour channels), input and output file
sizes, time per stage, and the device used. A progress bar goes to stderr
when it is a terminal and tqdm is installed (optional: pip install tqdm).

Several images: give several INPUTs (one after the other), or a folder (the
image files in it, by their extension; not its subfolders; other files are
skipped with a note), and -o an existing folder: each input's PNG is written
there under the same name with .png (photo.jpg -> FOLDER/photo.png), the
same PNG the command writes for that image alone. One line per image and a
total are printed; the progress bar counts images. Images are read,
quantized and written one at a time, so memory is that of the largest. An
image that cannot be read, quantized or written is reported and skipped;
the others are still written, and the exit status is then 1.

Exit status: 0 success; 2 usage error (bad option, -k out of 1..256, missing
input, output folder missing, output not named .png, output would overwrite
the input; with several inputs: -o not an existing folder, two inputs with
the same name, --compare or --scatter); 1 failure (input not a readable
image, output not writable, GPU unavailable; with several inputs: any image
failed). On failure no output file is left behind: every PNG is written to
a temporary file and renamed.
"""


class CommandError(Exception):
    """An error reported as ``xkmeans quantize: error: ...`` with an exit code."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def _require(module, extra, what, package=None):
    """Import ``module``, or a CommandError naming the package and the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        package = package or module.split(".")[0]
        msg = f"{what} needs {package}: pip install 'xkmeans[{extra}]'."
        raise CommandError(msg) from e


def _require_matplotlib(args):
    """Fail before any work when --compare or --scatter is given without matplotlib."""
    options = [opt for opt, fig in (("--compare", args.compare), ("--scatter", args.scatter))
               if fig]
    if not options:
        return
    what = " and ".join(options)
    # Every module the figures use, so that a partial install fails here too.
    modules = ["matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"]
    if args.scatter:
        modules.append("mpl_toolkits.mplot3d")
    for module in modules:
        _require(module, "plot", what, package="matplotlib")


def _have_tqdm():
    """True when tqdm (optional, the ``image`` extra) can draw a progress bar."""
    try:
        import tqdm.auto  # noqa: F401
    except ImportError:
        return False
    return True


def _build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="GPU-backed, array-agnostic k-means tools.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    q = sub.add_parser(
        "quantize",
        help="colour-quantize an image to an indexed PNG with N colours",
        description=_QUANTIZE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument(
        "input", nargs="*", metavar="INPUT",
        help="image to quantize (any format Pillow reads: JPEG, PNG, TIFF, ...), several "
             "images, or a folder of images (needs -o FOLDER); default: china.jpg, the "
             "sample photo bundled with scikit-learn",
    )
    q.add_argument("-k", "--colors", type=int, default=16, metavar="N",
                   help="palette size, 1..256 (default: 16)")
    q.add_argument("-o", "--output", metavar="OUTPUT",
                   help="PNG to write, ending in .png (default: INPUTNAME-kN.png in the "
                        "current folder); never the input itself. With several inputs or a "
                        "folder: an existing folder, where INPUTNAME.png is written for each")
    q.add_argument("--device", choices=("cpu", "gpu", "auto"), default="auto",
                   help="cpu: NumPy; gpu: CuPy on the current CUDA device (error if CuPy or "
                        "a GPU is missing); auto: the GPU when CuPy and a device are present, "
                        "else the CPU (default: auto; the device used is printed)")
    q.add_argument("--seed", type=int, default=0, metavar="S",
                   help="random seed for the pixel sample and k-means++ (default: 0); a seed "
                        "gives the same palette on every device")
    q.add_argument("--method", choices=("kmeans", "minibatch"), default="kmeans",
                   help="palette fit: kmeans (KMeans, Lloyd) or minibatch (MiniBatchKMeans) "
                        "(default: kmeans)")
    q.add_argument("--sample-size", type=int, default=None, metavar="P",
                   help="pixels the palette is fitted on (default: 65536; enough for PSNR "
                        "within 0.2 dB of k-means on every pixel)")
    q.add_argument("--png-strategy", choices=tuple(_ZLIB_STRATEGIES), default="rle",
                   help="zlib strategy of the PNG encoder (default: rle: on 4-bit palette "
                        "photos it writes both the smallest file and 3x faster than "
                        "'default' at level 6)")
    q.add_argument("--compress-level", type=int, default=6, choices=range(10), metavar="L",
                   help="PNG zlib level 0..9 (default: 6; matters little with rle)")
    q.add_argument("--compare", metavar="FIG.png",
                   help="also write a side-by-side figure original | quantized "
                        "(needs matplotlib: pip install 'xkmeans[plot]')")
    q.add_argument("--scatter", metavar="FIG.png",
                   help="also write a scatter of pixel colours in RGB space with the palette "
                        "(needs matplotlib: pip install 'xkmeans[plot]')")
    q.add_argument("-q", "--quiet", action="store_true",
                   help="print nothing but errors, no progress bar")
    return parser


# --- paths -----------------------------------------------------------------

def _sample_image_path():
    import importlib.util

    # Found, not imported: importing scikit-learn costs seconds.
    spec = importlib.util.find_spec("sklearn")
    root = spec.submodule_search_locations[0] if spec is not None else "<not installed>"
    path = os.path.join(root, "datasets", "images", "china.jpg")
    if not os.path.isfile(path):
        msg = f"scikit-learn's sample image is missing at {path}; pass an INPUT image."
        raise CommandError(msg, code=2)
    return path


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _check_output_path(path, input_path, what):
    """Usage errors a path shows before any work is done."""
    if os.path.isdir(path):
        msg = f"{what} {path!r} is a folder; give a file name."
        raise CommandError(msg, code=2)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        problem = "is not a folder" if os.path.exists(folder) else "does not exist"
        msg = f"cannot write {what} {path!r}: {folder!r} {problem}."
        raise CommandError(msg, code=2)
    if _same_file(path, input_path):
        msg = f"{what} {path!r} would overwrite the input image; choose another name."
        raise CommandError(msg, code=2)
    if not os.access(folder, os.W_OK):
        msg = f"cannot write {what} {path!r}: folder {folder!r} is not writable."
        raise CommandError(msg)


@contextlib.contextmanager
def _atomic_output(path):
    """A temporary file beside ``path``, moved onto it only when writing succeeded."""
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    except OSError as e:
        msg = f"cannot write {path!r}: {e.strerror or e}."
        raise CommandError(msg) from e
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            msg = f"cannot write {path!r}: {e.strerror or e}."
            raise CommandError(msg) from e
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- devices ---------------------------------------------------------------

def _choose_device(choice):
    """``(cupy.cuda.Device or None, description)``."""
    if choice == "cpu":
        return None, "cpu (NumPy)"
    device, desc = cupy_device()
    if device is not None:
        return device, desc
    if choice == "gpu":
        msg = f"--device gpu: {desc}. Use --device cpu or auto."
        raise CommandError(msg)
    return None, f"cpu (NumPy; auto: {desc})"


# --- images ----------------------------------------------------------------

def _read_image(path):
    Image = _require("PIL.Image", "image", "reading images", package="Pillow")
    try:
        with Image.open(path) as im:
            im.load()
            has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
                im.mode == "P" and "transparency" in im.info
            )
            mode = "RGBA" if has_alpha else "RGB"
            fmt = im.format
            if im.mode != mode:
                im = im.convert(mode)
            pixels = _to_array(im)
            im.close()
    except FileNotFoundError as e:
        msg = f"input {path!r} does not exist."
        raise CommandError(msg, code=2) from e
    except Image.UnidentifiedImageError as e:
        msg = f"input {path!r} is not an image Pillow can read."
        raise CommandError(msg) from e
    except (OSError, SyntaxError, ValueError) as e:  # truncated / corrupt / unreadable
        msg = f"cannot read input {path!r}: {e}."
        raise CommandError(msg) from e
    return pixels, fmt


def _to_array(im, strip_pixels=1 << 20):
    """Pillow image -> uint8 array, copied in strips of rows.

    ``np.asarray(im)`` goes through ``im.tobytes()``, which holds the image
    twice more on top of Pillow's own copy (4 bytes per pixel); strips keep
    the peak at Pillow's copy plus the array.
    """
    w, h = im.size
    out = np.empty((h, w, len(im.getbands())), dtype=np.uint8)
    rows = max(1, strip_pixels // max(1, w))
    for y in range(0, h, rows):
        y1 = min(h, y + rows)
        out[y:y1] = np.asarray(im.crop((0, y, w, y1)))
    return out


def _palette_image(palette, indices, alpha):
    """A Pillow image to save: mode 'P' (with tRNS when alpha varies), else RGBA."""
    from PIL import Image

    h, w = indices.shape
    if alpha is not None and not (alpha == 255).all():
        # One palette entry per (colour, alpha) pair present.
        pairs, inverse = np.unique(indices.astype(np.uint16) * 256 + alpha, return_inverse=True)
        if pairs.size > 256:
            rgba = np.concatenate([palette[indices], alpha[:, :, None]], axis=2)
            note = (f"note: {pairs.size} distinct (colour, alpha) pairs do not fit a 256-entry "
                    "PNG palette; wrote an RGBA PNG (colours still limited to the palette).")
            return Image.fromarray(rgba, mode="RGBA"), note
        im = _p_image(inverse.reshape(h, w).astype(np.uint8))
        im.putpalette(palette[pairs // 256].tobytes(), rawmode="RGB")
        im.info["transparency"] = (pairs % 256).astype(np.uint8).tobytes()
        return im, None
    im = _p_image(indices)
    im.putpalette(palette.tobytes(), rawmode="RGB")
    return im, None


def _p_image(indices):
    from PIL import Image

    h, w = indices.shape
    return Image.frombuffer("P", (w, h), np.ascontiguousarray(indices), "raw", "P", 0, 1)


def _save_png(im, path, compress_level, strategy="rle"):
    with _atomic_output(path) as tmp:
        save_kw = {"format": "PNG", "compress_level": compress_level,
                   "compress_type": _ZLIB_STRATEGIES[strategy]}
        if "transparency" in im.info:
            save_kw["transparency"] = im.info["transparency"]
        im.save(tmp, **save_kw)


def _thumbnail(pixels, max_side=1024):
    """A cheap view for plotting: every s-th pixel so the longer side <= max_side."""
    step = max(1, -(-max(pixels.shape[:2]) // max_side))
    return pixels[::step, ::step]


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    return fig


def _save_figure(fig, path):
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    with _atomic_output(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=100)


def _compare_figure(original, palette, indices, alpha, psnr_db, path):
    fig = _figure()
    orig = _thumbnail(original)
    idx = _thumbnail(indices)
    quant = palette[idx]
    if alpha is not None:
        quant = np.concatenate([quant, _thumbnail(alpha)[:, :, None]], axis=2)
    h, w = orig.shape[:2]
    fig.set_size_inches(2 * 6, 6 * h / w + 0.8)
    for i, (img, title) in enumerate([
        (orig, f"original ({original.shape[1]} x {original.shape[0]})"),
        (quant, f"{palette.shape[0]} colours, PSNR {psnr_db:.2f} dB"),
    ]):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title)
        ax.set_axis_off()
    fig.tight_layout()
    _save_figure(fig, path)


def _scatter_figure(original, palette, indices, seed, path, n_points=5000):
    fig = _figure()
    rng = np.random.default_rng(seed)
    flat = original.reshape(-1, original.shape[2])[:, :3]
    pick = rng.choice(flat.shape[0], size=min(n_points, flat.shape[0]), replace=False)
    pts = flat[pick].astype(np.float64) / 255
    pal = palette.astype(np.float64) / 255
    fig.set_size_inches(13, 6)
    mapped = pal[indices.reshape(-1)[pick]]
    for i, (colours, title) in enumerate([
        (pts, f"{pts.shape[0]} random pixels, their own colour"),
        (mapped, f"the same pixels, coloured by their palette entry ({pal.shape[0]})"),
    ]):
        ax = fig.add_subplot(1, 2, i + 1, projection="3d")
        ax.scatter(pts[:, 0], pts[:, 1], pts[:, 2], c=colours, s=2, alpha=0.6, depthshade=False)
        ax.scatter(pal[:, 0], pal[:, 1], pal[:, 2], c=pal, s=120, edgecolors="black",
                   depthshade=False)
        ax.set(xlabel="red", ylabel="green", zlabel="blue", title=title)
        ax.set_box_aspect(None, zoom=0.85)
    fig.tight_layout()
    _save_figure(fig, path)


# --- the command -----------------------------------------------------------

def _human(n):
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


@dataclasses.dataclass
class _Quantized:
    """One image read, quantized and written: what the reports and figures need."""

    pixels: np.ndarray
    fmt: str
    palette: np.ndarray
    indices: np.ndarray
    alpha: np.ndarray | None
    psnr_db: float
    note: str | None
    seconds: dict  # read, quantize, write


def _sample_size(args):
    from .quantize import DEFAULT_SAMPLE_SIZE

    sample_size = DEFAULT_SAMPLE_SIZE if args.sample_size is None else args.sample_size
    if sample_size < 1:
        msg = f"--sample-size {sample_size} should be >= 1."
        raise CommandError(msg, code=2)
    return sample_size


def _quantize_file(args, input_path, output, device, *, progress):
    """Read, quantize and write one image (the PNG atomically)."""
    from .quantize import _psnr_from_sse, _quantize

    seconds = {}
    t0 = time.perf_counter()
    pixels, fmt = _read_image(input_path)
    seconds["read"] = time.perf_counter() - t0
    h, w, c = pixels.shape

    t0 = time.perf_counter()
    image = pixels if device is None else namespace_for_device(device).asarray(pixels,
                                                                               device=device)
    try:
        palette, indices, sse = _quantize(
            image, args.colors, method=args.method, random_state=args.seed,
            sample_size=_sample_size(args), n_init=1, progress=progress,
        )
    except ValueError as e:  # e.g. fewer pixels than colours
        raise CommandError(str(e), code=2) from e
    if device is not None:
        palette, indices, sse = to_numpy(palette), to_numpy(indices), float(sse)
        del image
    seconds["quantize"] = time.perf_counter() - t0
    psnr_db = _psnr_from_sse(float(sse), h * w * 3, 255.0)
    alpha = pixels[:, :, 3] if c == 4 else None

    t0 = time.perf_counter()
    im, note = _palette_image(palette, indices, alpha)
    _save_png(im, output, args.compress_level, args.png_strategy)
    del im
    seconds["write"] = time.perf_counter() - t0
    return _Quantized(pixels, fmt, palette, indices, alpha, psnr_db, note, seconds)


def _quantize_command(args, out):
    _sample_size(args)  # a usage error before any work
    if len(args.input) > 1 or (len(args.input) == 1 and os.path.isdir(args.input[0])):
        return _batch_command(args, out)
    return _single_command(args, out)


def _single_command(args, out):
    t_start = time.perf_counter()
    input_path = args.input[0] if args.input else _sample_image_path()
    if not os.path.exists(input_path):
        msg = f"input {input_path!r} does not exist."
        raise CommandError(msg, code=2)
    output = args.output
    if output is None:
        stem = os.path.splitext(os.path.basename(input_path))[0]
        output = f"{stem}-k{args.colors}.png"
    _check_output_path(output, input_path, "output")
    if os.path.splitext(output)[1].lower() != ".png":
        msg = (
            f"output {output!r} should end in .png: the command writes an indexed PNG; "
            "convert it afterwards for another format."
        )
        raise CommandError(msg, code=2)
    for what, fig in (("--compare figure", args.compare), ("--scatter figure", args.scatter)):
        if fig is not None:
            _check_output_path(fig, input_path, what)
            if _same_file(fig, output) or os.path.abspath(fig) == os.path.abspath(output):
                msg = f"{what} {fig!r} is the same file as the output PNG."
                raise CommandError(msg, code=2)
    _require_matplotlib(args)
    _require("PIL.Image", "image", "xkmeans quantize", package="Pillow")
    device, device_desc = _choose_device(args.device)

    r = _quantize_file(args, input_path, output, device,
                       progress=not args.quiet and _have_tqdm())
    t0 = time.perf_counter()
    if args.compare:
        _compare_figure(r.pixels, r.palette, r.indices, r.alpha, r.psnr_db, args.compare)
    if args.scatter:
        _scatter_figure(r.pixels, r.palette, r.indices, args.seed, args.scatter)
    t_figs = time.perf_counter() - t0
    total = time.perf_counter() - t_start
    if not args.quiet:
        _print_report(args, r, input_path, output, device_desc, total, t_figs, out)
    return 0


def _print_report(args, r, input_path, output, device_desc, total, t_figs, out):
    h, w, c = r.pixels.shape
    in_size, out_size = os.path.getsize(input_path), os.path.getsize(output)
    distinct = np.unique(r.palette, axis=0).shape[0]
    print(f"input     {input_path} ({r.fmt}, {w} x {h}, {'RGBA' if c == 4 else 'RGB'}, "
          f"{_human(in_size)})", file=out)
    print(f"output    {output} (palette PNG, {_human(out_size)}, "
          f"{out_size / in_size:.1%} of the input)", file=out)
    print(f"palette   {distinct} colours (k={args.colors}, method {args.method}, "
          f"fitted on {min(_sample_size(args), h * w)} pixels, seed {args.seed})", file=out)
    print(f"PSNR      {r.psnr_db:.2f} dB", file=out)
    print(f"device    {device_desc}", file=out)
    s = r.seconds
    timing = (f"time      {total:.2f} s (read {s['read']:.2f}, quantize {s['quantize']:.2f}, "
              f"write {s['write']:.2f}")
    if args.compare or args.scatter:
        timing += f", figures {t_figs:.2f}"
    print(timing + ")", file=out)
    for fig in (args.compare, args.scatter):
        if fig:
            print(f"figure    {fig}", file=out)
    if r.note:
        print(r.note, file=sys.stderr)


# --- several images --------------------------------------------------------

def _image_extensions():
    """File name extensions of the formats Pillow can open (lower case, with the dot)."""
    from PIL import Image

    Image.init()
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def _list_inputs(paths):
    """``(image paths, notes)``: files as given, each folder's image files by name.

    A folder is listed without its subfolders; its files whose extension is
    not an image format's are skipped, each with a note.
    """
    extensions = _image_extensions()
    files, notes = [], []
    for path in paths:
        if not os.path.exists(path):
            msg = f"input {path!r} does not exist."
            raise CommandError(msg, code=2)
        if not os.path.isdir(path):
            files.append(path)
            continue
        entries = sorted((e for e in os.scandir(path) if not e.is_dir()), key=lambda e: e.name)
        images = [e.path for e in entries if os.path.splitext(e.name)[1].lower() in extensions]
        notes += [f"note: skipping {e.path!r}: not an image file name" for e in entries
                  if e.path not in images]
        if not images:
            msg = f"input folder {path!r} holds no image files."
            raise CommandError(msg, code=2)
        files += images
    return files, notes


def _batch_outputs(files, folder):
    """One PNG path per input in ``folder``; usage errors before any work."""
    if folder is None or not os.path.isdir(folder):
        problem = ("is missing" if folder is None else
                   f"{folder!r} is a file" if os.path.exists(folder) else
                   f"{folder!r} does not exist")
        msg = (f"-o {problem}: with several inputs or a folder, -o names an existing folder "
               "where one PNG per input is written.")
        raise CommandError(msg, code=2)
    if not os.access(folder, os.W_OK):
        msg = f"cannot write to output folder {folder!r}: it is not writable."
        raise CommandError(msg)
    def key(path):
        return os.path.normcase(os.path.realpath(path))

    inputs = {key(f): f for f in files}
    outputs, seen = [], {}
    for f in files:
        out = os.path.join(folder, os.path.splitext(os.path.basename(f))[0] + ".png")
        key_out = key(out)
        if key_out in seen:
            msg = f"inputs {seen[key_out]!r} and {f!r} would both be written to {out!r}."
            raise CommandError(msg, code=2)
        if key_out in inputs:
            msg = (f"output {out!r} would overwrite the input {inputs[key_out]!r}; "
                   "choose another -o.")
            raise CommandError(msg, code=2)
        seen[key_out] = f
        outputs.append(out)
    return outputs


def _images_bar(n, quiet):
    """A tqdm bar over images on stderr (None when quiet or without tqdm)."""
    if quiet or not _have_tqdm():
        return None
    from tqdm.auto import tqdm

    # disable=None: no bar when stderr is not a terminal.
    return tqdm(total=n, unit="img", desc="quantizing", file=sys.stderr, disable=None,
                leave=False)


def _say(line, file, bar):
    if bar is not None and not bar.disable:
        bar.write(line, file=file)  # above the bar, which is redrawn under it
    else:
        print(line, file=file)


def _batch_command(args, out):
    t_start = time.perf_counter()
    if args.compare or args.scatter:
        msg = "--compare and --scatter take a single input image."
        raise CommandError(msg, code=2)
    _require("PIL.Image", "image", "xkmeans quantize", package="Pillow")
    files, notes = _list_inputs(args.input)
    outputs = _batch_outputs(files, args.output)
    device, device_desc = _choose_device(args.device)
    if not args.quiet:
        for note in notes:
            print(note, file=sys.stderr)
    bar = _images_bar(len(files), args.quiet)
    failed, in_bytes, out_bytes = [], 0, 0
    try:
        for path, output in zip(files, outputs):
            try:
                r = _quantize_file(args, path, output, device, progress=False)
            except CommandError as e:
                failed.append(path)
                text = str(e) if repr(path) in str(e) else f"input {path!r}: {e}"
                _say(f"{PROG} quantize: error: {text}", sys.stderr, bar)
            else:
                in_bytes += os.path.getsize(path)
                out_bytes += os.path.getsize(output)
                if not args.quiet:
                    _say(_image_line(path, output, r), out, bar)
                    if r.note:
                        _say(f"{path}: {r.note}", sys.stderr, bar)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        done = len(files) - len(failed)
        ratio = f" ({out_bytes / in_bytes:.1%})" if in_bytes else ""
        print(f"total: {done} of {len(files)} images written to {args.output}"
              f"{f', {len(failed)} failed' if failed else ''}; {_human(in_bytes)} -> "
              f"{_human(out_bytes)}{ratio}; {time.perf_counter() - t_start:.2f} s; "
              f"device {device_desc}", file=out)
    return 1 if failed else 0


def _image_line(path, output, r):
    h, w, c = r.pixels.shape
    in_size, out_size = os.path.getsize(path), os.path.getsize(output)
    s = r.seconds
    return (f"{path} -> {output}: {w} x {h} {'RGBA' if c == 4 else 'RGB'}, "
            f"{np.unique(r.palette, axis=0).shape[0]} colours, PSNR {r.psnr_db:.2f} dB, "
            f"{_human(in_size)} -> {_human(out_size)} ({out_size / in_size:.1%}), "
            f"{s['read'] + s['quantize'] + s['write']:.2f} s")


def main(argv=None):
    """Run the ``xkmeans`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (``sys.argv[1:]`` by default).

    Returns
    -------
    status : int
        0 on success, 2 for usage errors, 1 for other failures.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "quantize":
        if not 1 <= args.colors <= 256:
            parser.error(f"argument -k/--colors: N={args.colors} should be in 1..256 "
                         "(a PNG palette holds at most 256 colours).")
        if args.seed < 0:
            parser.error(f"argument --seed: S={args.seed} should be an integer >= 0.")
        try:
            return _quantize_command(args, sys.stdout)
        except CommandError as e:
            print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
            return e.code
        except KeyboardInterrupt:
            print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
            return 130
    parser.error(f"unknown command {args.command!r}")
    return 2
