"""The ``xkmeans quantize`` command: end to end in a subprocess, and every error case."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from xkmeans import cli
from xkmeans._backend import cupy_device

PIL = pytest.importorskip("PIL.Image")
Image = PIL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "xkmeans", *args], check=False,
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


@pytest.fixture
def photo(tmp_path):
    """A small natural image (a crop of china.jpg) saved as JPEG."""
    from sklearn.datasets import load_sample_image

    path = tmp_path / "photo.jpg"
    Image.fromarray(load_sample_image("china.jpg")[100:260, 200:440]).save(path, quality=90)
    return path


def _main(args, capsys):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_end_to_end_subprocess(photo, tmp_path):
    out = tmp_path / "small.png"
    cmp_fig = tmp_path / "cmp.png"
    r = run("quantize", photo, "-k", "8", "-o", out, "--device", "cpu", "--seed", "1",
            "--compare", cmp_fig)
    assert r.returncode == 0, r.stderr
    for word in ("palette", "PSNR", "dB", "device", "cpu", "time", "kB"):
        assert word in r.stdout
    with Image.open(out) as im:
        assert im.mode == "P"
        assert len(im.getcolors()) <= 8
        decoded = np.asarray(im.convert("RGB"))
    with Image.open(cmp_fig) as fig:
        assert fig.size[0] > 0
    # The PNG decodes to exactly the image the library returns.
    from xkmeans import dequantize, quantize

    with Image.open(photo) as im:
        pixels = np.asarray(im.convert("RGB"))
    palette, indices = quantize(pixels, 8, random_state=1)
    np.testing.assert_array_equal(decoded, dequantize(palette, indices))
    psnr_printed = float(r.stdout.split("PSNR")[1].split()[0])
    from xkmeans import psnr

    assert psnr_printed == pytest.approx(psnr(decoded, pixels), abs=0.01)
    assert os.path.getsize(out) < os.path.getsize(photo) * 3  # a JPEG crop: small already
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp.png", "photo.jpg", "small.png"]


def test_default_input_is_china_and_default_output_in_cwd(tmp_path, capsys):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = cli.main(["quantize", "-k", "4", "--device", "auto", "--scatter", "sc.png"])
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "china.jpg" in out and "cpu" in out  # no GPU here: auto says it used the CPU
    with Image.open(tmp_path / "china-k4.png") as im:
        assert im.mode == "P" and im.size == (640, 427) and len(im.getcolors()) <= 4
        assert os.path.getsize(tmp_path / "china-k4.png") < 196_000  # smaller than the JPEG
    assert (tmp_path / "sc.png").exists()


def test_rgba_input_keeps_alpha(tmp_path, capsys):
    rng = np.random.default_rng(0)
    colours = np.array([[255, 0, 0], [0, 0, 255], [0, 255, 0]], dtype=np.uint8)
    rgb = colours[rng.integers(3, size=(30, 40))]
    alpha = np.where(rng.random((30, 40)) < 0.5, 0, 255).astype(np.uint8)
    src = tmp_path / "a.png"
    Image.fromarray(np.dstack([rgb, alpha]), mode="RGBA").save(src)
    code, _, err = _main(["quantize", src, "-k", "3", "-o", tmp_path / "b.png", "-q"], capsys)
    assert code == 0, err
    with Image.open(tmp_path / "b.png") as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im.convert("RGBA")), np.dstack([rgb, alpha]))


def test_rgba_with_many_alpha_values_falls_back_to_rgba_and_says_so(tmp_path, capsys):
    rng = np.random.default_rng(0)
    colours = np.array([[255, 0, 0], [0, 0, 255], [0, 255, 0]], dtype=np.uint8)
    rgba = np.dstack([colours[rng.integers(3, size=(30, 40))],
                      rng.integers(0, 256, size=(30, 40), dtype=np.uint8)])
    src = tmp_path / "a.png"
    Image.fromarray(rgba, mode="RGBA").save(src)
    code, _, err = _main(["quantize", src, "-k", "3", "-o", tmp_path / "b.png"], capsys)
    assert code == 0
    assert "RGBA PNG" in err
    with Image.open(tmp_path / "b.png") as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im), rgba)


def test_help_explains_memory_and_devices():
    r = run("quantize", "--help")
    assert r.returncode == 0
    for word in ("Memory", "4096 x 4096", "--device", "auto", "CuPy", "--compare", "--scatter",
                 "Exit status", "alpha", "Several images", "folder", "status is then 1"):
        assert word in r.stdout


# --- errors: message on stderr, exit status, no output left behind ---------------------------

def _assert_failed(code, err, expected_code, match, folder, before):
    assert code == expected_code
    assert match in err
    assert "Traceback" not in err
    assert sorted(os.listdir(folder)) == before


@pytest.mark.parametrize("k", ["0", "257", "-3"])
def test_k_out_of_range_is_a_usage_error(photo, tmp_path, k):
    before = sorted(os.listdir(tmp_path))
    r = run("quantize", photo, "-k", k, "-o", tmp_path / "o.png")
    _assert_failed(r.returncode, r.stderr, 2, "1..256", tmp_path, before)


def test_missing_input(tmp_path, capsys):
    code, _, err = _main(["quantize", tmp_path / "nope.jpg", "-o", tmp_path / "o.png"], capsys)
    _assert_failed(code, err, 2, "does not exist", tmp_path, [])


def test_non_image_input(tmp_path, capsys):
    src = tmp_path / "notes.txt"
    src.write_text("not an image\n")
    code, _, err = _main(["quantize", src, "-o", tmp_path / "o.png"], capsys)
    _assert_failed(code, err, 1, "not an image", tmp_path, ["notes.txt"])


def test_truncated_image(photo, tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(photo.read_bytes()[:2000])
    before = sorted(os.listdir(tmp_path))
    code, _, err = _main(["quantize", bad, "-o", tmp_path / "o.png"], capsys)
    _assert_failed(code, err, 1, "cannot read input", tmp_path, before)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="file permissions do not apply (not POSIX, or running as root)")
def test_unreadable_input(photo, tmp_path, capsys):
    os.chmod(photo, 0)
    try:
        code, _, err = _main(["quantize", photo, "-o", tmp_path / "o.png"], capsys)
    finally:
        os.chmod(photo, 0o644)
    _assert_failed(code, err, 1, "cannot read input", tmp_path, ["photo.jpg"])


def test_input_is_an_empty_folder(tmp_path, capsys):
    # A folder is a batch of its images; one without any is a usage error.
    (tmp_path / "notes.txt").write_text("x")
    code, _, err = _main(["quantize", tmp_path, "-o", tmp_path], capsys)
    _assert_failed(code, err, 2, "holds no image files", tmp_path, ["notes.txt"])


def test_output_folder_missing(photo, tmp_path, capsys):
    before = sorted(os.listdir(tmp_path))
    code, _, err = _main(["quantize", photo, "-o", tmp_path / "no" / "o.png"], capsys)
    _assert_failed(code, err, 2, "does not exist", tmp_path, before)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="file permissions do not apply (not POSIX, or running as root)")
def test_output_folder_read_only(photo, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        code, _, err = _main(["quantize", photo, "-o", ro / "o.png"], capsys)
    finally:
        os.chmod(ro, 0o755)
    _assert_failed(code, err, 1, "not writable", ro, [])


def test_write_failure_leaves_nothing_behind(photo, tmp_path, capsys, monkeypatch):
    # Whatever the permissions (root ignores them), a save that fails half way
    # must leave neither the output nor its temporary file.
    def failing_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    before = sorted(os.listdir(tmp_path))
    code, _, err = _main(["quantize", photo, "-o", tmp_path / "o.png", "-q"], capsys)
    _assert_failed(code, err, 1, "No space left on device", tmp_path, before)


def test_output_path_is_a_folder(photo, tmp_path, capsys):
    before = sorted(os.listdir(tmp_path))
    code, _, err = _main(["quantize", photo, "-o", tmp_path], capsys)
    _assert_failed(code, err, 2, "is a folder", tmp_path, before)


def test_output_would_overwrite_input(tmp_path, capsys):
    src = tmp_path / "pic.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src)
    data = src.read_bytes()
    code, _, err = _main(["quantize", src, "-k", "2", "-o", src], capsys)
    _assert_failed(code, err, 2, "overwrite the input", tmp_path, ["pic.png"])
    assert src.read_bytes() == data
    # Also through another spelling of the same path.
    code, _, err = _main(["quantize", src, "-k", "2", "-o",
                          os.path.join(tmp_path, ".", "pic.png")], capsys)
    assert code == 2 and src.read_bytes() == data


def test_figure_would_overwrite_input(photo, tmp_path, capsys):
    code, _, err = _main(["quantize", photo, "-o", tmp_path / "o.png", "--compare", photo],
                         capsys)
    _assert_failed(code, err, 2, "overwrite the input", tmp_path, ["photo.jpg"])


def test_more_colours_than_pixels(tmp_path, capsys):
    src = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(src)
    code, _, err = _main(["quantize", src, "-k", "16", "-o", tmp_path / "o.png"], capsys)
    _assert_failed(code, err, 2, "n_colors=16", tmp_path, ["tiny.png"])


def test_gpu_without_cupy_is_a_clear_error(photo, tmp_path, capsys):
    if cupy_device()[0] is not None:
        pytest.skip("a GPU is present")
    code, _, err = _main(["quantize", photo, "--device", "gpu", "-o", tmp_path / "o.png"],
                         capsys)
    _assert_failed(code, err, 1, "--device gpu", tmp_path, ["photo.jpg"])


def test_bad_option_is_a_usage_error(photo):
    r = run("quantize", photo, "--device", "tpu")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = run("frobnicate")
    assert r.returncode == 2


def test_version():
    import subprocess
    import sys

    import xkmeans

    out = subprocess.run([sys.executable, "-m", "xkmeans", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == f"xkmeans {xkmeans.__version__}"


def test_output_under_a_file_is_a_usage_error(tmp_path, photo, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    before = sorted(os.listdir(tmp_path))
    code, _, err = _main(["quantize", photo, "-k", "4", "-o", blocker / "out.png"], capsys)
    _assert_failed(code, err, 2, "is not a folder", tmp_path, before)


@pytest.mark.parametrize("name", ["out.jpg", "out"])
def test_output_must_be_a_png(tmp_path, photo, capsys, name):
    before = sorted(os.listdir(tmp_path))
    code, _, err = _main(["quantize", photo, "-k", "4", "-o", tmp_path / name], capsys)
    _assert_failed(code, err, 2, "should end in .png", tmp_path, before)


def test_negative_seed_is_a_usage_error(tmp_path, photo):
    before = sorted(os.listdir(tmp_path))
    r = run("quantize", photo, "--seed", "-1", "-o", tmp_path / "o.png")
    _assert_failed(r.returncode, r.stderr, 2, "should be an integer >= 0", tmp_path, before)


# --- optional dependencies: tqdm and matplotlib missing ---------------------------------------

# Runs the command in a fresh interpreter where importing any of the named top-level
# packages raises ModuleNotFoundError, as if they were not installed.
_WITHOUT = """
import sys
from importlib.abc import MetaPathFinder

BLOCKED = set(sys.argv[1].split(","))


class Block(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, Block())
from xkmeans.cli import main

sys.exit(main(sys.argv[2:]))
"""


def run_without(modules, *args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-c", _WITHOUT, ",".join(modules), *map(str, args)]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def test_quantize_without_tqdm_works_without_a_bar(photo, tmp_path):
    out = tmp_path / "o.png"
    r = run_without(["tqdm"], "quantize", photo, "-k", "8", "-o", out, "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "tqdm" not in r.stderr
    assert "PSNR" in r.stdout
    with Image.open(out) as im:
        assert im.mode == "P" and len(im.getcolors()) <= 8
    assert sorted(os.listdir(tmp_path)) == ["o.png", "photo.jpg"]


def test_the_blocking_helper_really_hides_tqdm():
    # Without tqdm, progress=True in the library API is an ImportError that says what to do,
    # so the test above really ran without tqdm.
    code = (_WITHOUT.split("from xkmeans.cli")[0]
            + "import numpy as np\nfrom xkmeans import quantize\n"
            + "quantize(np.zeros((4, 4, 3), np.uint8), 2, progress=True)\n")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", code, "tqdm"], capture_output=True, text=True,
                       check=False, env=env, timeout=120)
    assert r.returncode == 1
    assert "ImportError: progress=True needs tqdm" in r.stderr
    assert "pip install tqdm" in r.stderr


@pytest.mark.parametrize("options", [["--compare"], ["--scatter"], ["--compare", "--scatter"]])
def test_figures_without_matplotlib_fail_before_any_work(photo, tmp_path, options):
    before = sorted(os.listdir(tmp_path))
    args = ["quantize", photo, "-k", "4", "-o", tmp_path / "o.png", "--device", "cpu"]
    for opt in options:
        args += [opt, tmp_path / f"{opt.strip('-')}.png"]
    r = run_without(["matplotlib", "mpl_toolkits"], *args)
    _assert_failed(r.returncode, r.stderr, 1, "pip install 'xkmeans[plot]'", tmp_path, before)
    assert f"{' and '.join(options)} needs matplotlib" in r.stderr
    assert r.stderr.count("\n") == 1  # one line: the message, nothing else
    assert r.stdout == ""


def test_scatter_with_matplotlib_missing_its_3d_toolkit_fails_before_any_work(photo, tmp_path):
    # A partial install (no mpl_toolkits) fails up front too, not after the PNG is written.
    before = sorted(os.listdir(tmp_path))
    r = run_without(["mpl_toolkits"], "quantize", photo, "-k", "4", "-o", tmp_path / "o.png",
                    "--device", "cpu", "--scatter", tmp_path / "sc.png")
    _assert_failed(r.returncode, r.stderr, 1, "--scatter needs matplotlib", tmp_path, before)


def test_no_pillow_is_a_clear_error(photo, tmp_path):
    before = sorted(os.listdir(tmp_path))
    r = run_without(["PIL"], "quantize", photo, "-o", tmp_path / "o.png", "--device", "cpu")
    _assert_failed(r.returncode, r.stderr, 1,
                   "needs Pillow: pip install 'xkmeans[image]'", tmp_path, before)


def test_without_tqdm_the_command_asks_for_no_bar(photo, tmp_path, capsys, monkeypatch):
    # In-process: with tqdm hidden the command passes progress=False to the library.
    q = sys.modules["xkmeans.quantize"]

    seen = []
    real = q._quantize
    monkeypatch.setattr(q, "_quantize", lambda *a, **kw: seen.append(kw["progress"]) or
                        real(*a, **kw))
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    code, out, err = _main(["quantize", photo, "-k", "4", "-o", tmp_path / "a.png",
                            "--device", "cpu"], capsys)
    assert code == 0, err
    assert "PSNR" in out and "Traceback" not in err
    assert seen == [False]


# --- the device comes from xkmeans._backend ----------------------------------------------------

def test_cli_does_not_import_cupy_itself():
    import ast

    with open(cli.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        assert not any(n.split(".")[0] in ("cupy", "cupyx", "torch") for n in names), names


class _FakeRuntime:
    def __init__(self, count):
        self.count = count

    def getDeviceCount(self):
        if isinstance(self.count, Exception):
            raise self.count
        return self.count

    def getDeviceProperties(self, i):
        return {"name": b"Fake GPU \xff"}


def _fake_cupy(count):
    import types

    cupy = types.ModuleType("cupy")
    cupy.__version__ = "99.1"
    cupy.cuda = types.SimpleNamespace(runtime=_FakeRuntime(count),
                                      Device=lambda: types.SimpleNamespace(id=0))
    return cupy


@pytest.mark.parametrize(("cupy", "reason"), [
    (None, "CuPy is not installed (pip install 'xkmeans[cuda12]' or 'xkmeans[cuda13]')"),
    (_fake_cupy(0), "CuPy finds no CUDA device"),
    (_fake_cupy(RuntimeError("no driver")), "CuPy finds no CUDA device (RuntimeError: no driver)"),
])
def test_device_messages_without_a_usable_gpu(photo, tmp_path, capsys, monkeypatch, cupy, reason):
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    assert cupy_device() == (None, reason)
    code, _, err = _main(["quantize", photo, "--device", "gpu", "-o", tmp_path / "g.png"], capsys)
    assert code == 1
    assert err == f"xkmeans quantize: error: --device gpu: {reason}. Use --device cpu or auto.\n"
    code, out, err = _main(["quantize", photo, "-k", "4", "-o", tmp_path / "a.png"], capsys)
    assert code == 0, err
    assert f"device    cpu (NumPy; auto: {reason})" in out


def test_device_name_of_a_usable_gpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(1))
    device, desc = cupy_device()
    assert device.id == 0
    assert desc == "gpu 0: Fake GPU \ufffd (CuPy 99.1)"



# --- several images: files or a folder in, a folder out ---------------------------------------

def _small_images(folder):
    """Three small images of different sizes and formats in ``folder``; their paths."""
    from sklearn.datasets import load_sample_image

    china, flower = load_sample_image("china.jpg"), load_sample_image("flower.jpg")
    paths = [folder / "a.jpg", folder / "b.png", folder / "c.tif"]
    Image.fromarray(china[100:148, 200:264]).save(paths[0], quality=90)
    Image.fromarray(flower[200:230, 300:340]).save(paths[1])
    rgba = np.dstack([china[:20, :24], np.full((20, 24), 255, np.uint8)])
    rgba[:5, :5, 3] = 0
    Image.fromarray(rgba, mode="RGBA").save(paths[2])
    return paths


def _decoded(path, mode="RGBA"):
    with Image.open(path) as im:
        assert im.mode == "P"
        return np.asarray(im.convert(mode))


def test_folder_in_folder_out(tmp_path, capsys):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    paths = _small_images(src)
    (src / "notes.txt").write_text("not an image\n")
    (src / "sub").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src / "sub" / "deep.png")
    code, out, err = _main(["quantize", src, "-o", dst, "-k", "4", "--seed", "3"], capsys)
    assert code == 0, err
    assert sorted(os.listdir(dst)) == ["a.png", "b.png", "c.png"]  # not recursive, no temp files
    assert "skipping" in err and "notes.txt" in err and "Traceback" not in err
    lines = out.splitlines()
    assert len(lines) == 4 and all("PSNR" in line for line in lines[:3])
    assert lines[3].startswith("total: 3 of 3 images written")
    # Each PNG is the single-file command's PNG for that image, byte for byte.
    for path in paths:
        single = tmp_path / f"single-{path.stem}.png"
        code, _, err = _main(["quantize", path, "-o", single, "-k", "4", "--seed", "3", "-q"],
                             capsys)
        assert code == 0, err
        assert (dst / f"{path.stem}.png").read_bytes() == single.read_bytes()
    assert _decoded(dst / "c.png")[:5, :5, 3].max() == 0  # alpha kept


def test_several_files_match_the_library_batch(tmp_path, capsys):
    paths = _small_images(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, err = _main(["quantize", paths[1], paths[0], "-o", out, "-k", "5", "-q"],
                              capsys)
    assert code == 0, err
    assert stdout == "" and err == ""  # -q: nothing but errors
    assert sorted(os.listdir(out)) == ["a.png", "b.png"]
    from xkmeans import dequantize, quantize

    pixels = [np.asarray(Image.open(p).convert("RGB")) for p in paths[:2]]
    for p, (palette, indices) in zip(paths, quantize(pixels, 5, random_state=0)):
        np.testing.assert_array_equal(_decoded(out / f"{p.stem}.png", "RGB"),
                                      dequantize(palette, indices))


def test_unreadable_image_among_good_ones(tmp_path, capsys):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    paths = _small_images(src)
    (src / "bad.jpg").write_bytes(paths[0].read_bytes()[:300])  # truncated
    code, out, err = _main(["quantize", src, "-o", dst, "-k", "4"], capsys)
    assert code == 1
    assert sorted(os.listdir(dst)) == ["a.png", "b.png", "c.png"]  # the others, and no bad.png
    assert err.count("error:") == 1 and "bad.jpg" in err and "cannot read input" in err
    assert "Traceback" not in err
    assert "total: 3 of 4 images written" in out and "1 failed" in out


def test_image_too_small_for_k_among_good_ones(tmp_path, capsys):
    # Alone it is a usage error (exit 2); among others it is that image's failure.
    paths = _small_images(tmp_path)
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(tmp_path / "tiny.png")
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = _main(["quantize", paths[0], tmp_path / "tiny.png", "-o", out, "-k", "8"],
                         capsys)
    assert code == 1
    assert "tiny.png" in err and "n_colors=8 should be <=" in err
    assert sorted(os.listdir(out)) == ["a.png"]


@pytest.mark.parametrize("output", ["o.png", "existing.png", None])
def test_several_inputs_need_an_output_folder(tmp_path, capsys, output):
    paths = _small_images(tmp_path)
    (tmp_path / "existing.png").write_bytes(b"x")
    before = sorted(os.listdir(tmp_path))
    args = ["quantize", *paths[:2], "-k", "4"]
    if output is not None:
        args += ["-o", tmp_path / output]
    code, out, err = _main(args, capsys)
    match = "is missing" if output is None else "is a file" if "existing" in output else \
        "does not exist"
    _assert_failed(code, err, 2, match, tmp_path, before)
    assert "-o names an existing folder" in err and out == ""


@pytest.mark.parametrize(("extra", "match"), [
    (["--compare", "cmp.png"], "take a single input image"),
    (["SAME_STEM"], "would both be written to"),
    (["MISSING"], "does not exist"),
    (["-o", "SRC"], "would overwrite the input"),
])
def test_batch_usage_errors_before_any_work(tmp_path, capsys, extra, match):
    paths = _small_images(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    subst = {"SAME_STEM": tmp_path / "out" / "a.bmp", "MISSING": tmp_path / "nope.jpg",
             "SRC": tmp_path}
    if extra == ["SAME_STEM"]:
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(subst["SAME_STEM"])
    extra = [subst.get(a, a) for a in extra]
    inputs = [*paths, *extra] if len(extra) == 1 else paths  # positionals come together
    args = ["quantize", *inputs, "-k", "4", "-o", out, *(extra if len(extra) == 2 else [])]
    before = sorted(os.listdir(tmp_path)), sorted(os.listdir(out))
    code, _, err = _main(args, capsys)
    assert code == 2 and match in err and "Traceback" not in err
    assert (sorted(os.listdir(tmp_path)), sorted(os.listdir(out))) == before
