"""Issue 13's rows: k-NN graphs, spectral, mini-batch, streaming and image jobs on the GPU.

``python -m benchmarks.gpu_jobs [--lib cupy|torch|numpy] [--quick] [--budget S]``
prints one markdown row per job: the first run (it includes CUDA kernel
compilation, or loading CuPy's on-disk kernel cache, and growing the memory
pool), the warm run (median of up to ``--repeats`` more runs; fewer where a
job is long, see ``--cap``) and the issue's target. The device is
synchronised before every clock read (``measure.timed``); data are on the
device before the clock starts, except where the row says otherwise (the
memmap stream and the command line).

Jobs (full size; ``--quick`` shrinks all of them to run in seconds on NumPy):

- ``knn``: ``xkmeans.kneighbors_graph(X, 10)`` on moons 1M x 2 and on W2
  embeddings 100k x 128.
- ``spectral``: ``SpectralClustering(2, affinity='nearest_neighbors',
  n_neighbors=10, random_state=0)`` on moons 50k and 1M, end to end from a
  device array; ARI against the moons labels. The 1M row is skipped when the
  50k row took over 20 s.
- ``minibatch``: time per step, as the difference of two ``MiniBatchKMeans``
  fits (fixed init, tol=0, ``max_no_improvement=None``, batch 4096, k=16) of
  3 and 1 epochs (in that order) on W1 colour data (1M x 3) on the device,
  divided by the difference of their ``n_steps_``: what a step costs without
  the fit's fixed costs (validation, init, the first transfer). The whole 3-epoch fit over its
  ``n_steps_`` is in the notes.
- ``memmap``: ``MiniBatchKMeans(16, batch_size=4096, random_state=0,
  device=<the GPU>).fit(memmap)`` on a 4M x 3 float32 memmap of W1 colour
  data in a temporary folder (default stopping rule).
- ``cli``: ``python -m xkmeans quantize in.jpg -o out.png -k 16 --device
  gpu`` and ``--device cpu`` as subprocesses on a 4096 x 4096 JPEG (china.jpg
  upscaled with noise); the wall time of the process (interpreter start,
  imports, decode, quantize, PNG write) and the command's own quantize stage.
  The first GPU process loads CuPy's kernel cache from disk (compiles when
  the cache is cold).
- ``stage``: ``xkmeans.quantize(image, 16)`` on the 4096 x 4096 uint8 image
  on the device; beside it the same call on the host image and
  scikit-learn's recipe (``KMeans(16, n_init=1, random_state=0)`` fitted on a
  65,536-pixel sample, then ``predict`` on all pixels), on the same cores.
- ``batch``: ``xkmeans.quantize(batch, 16)`` of 256 crops of 512 x 512 as one
  (256, 512, 512, 3) uint8 device array (a palette per image).

With ``--lib numpy`` every row runs on the CPU and says so. Every job is
independent: a failure prints its row with the error and the script goes
on. Time: ``--cap`` bounds a job's warm runs (fewer repeats for a long job)
and ``--budget`` the script (once it is spent, the remaining jobs run once,
first run only, instead of being dropped). ``--isolate`` runs each job in its
own process, killed after ``--job-timeout``: a job that hangs or crashes
loses its own unfinished rows only (``gpu_check.sh`` uses it). The first run
of each job then also loads its kernels, as a user's first call would.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from . import impls
from .measure import median, timed
from .workloads import initial_centres, load_data

# Sizes: (full, quick).
KNN_LOW = (1_000_000, 20_000)
KNN_HIGH = ((100_000, 128, 1024), (2_000, 128, 64))
MOONS = ((50_000, 1_000_000), (1_000, 3_000))
SPECTRAL_SKIP_S = 20.0
MB_ROWS = (1_048_576, 32_768)
MB_BATCH = 4096
MB_EPOCHS = (1, 3)
MEMMAP_ROWS = (4_194_304, 65_536)
IMAGE_SIDE = (4096, 256)
BATCH = ((256, 512), (8, 64))
SKLEARN_SAMPLE = 65_536


class Runner:
    """First run and warm runs of a job, within a per-job cap and a script budget."""

    def __init__(self, repeats, cap_s, budget_s):
        self.repeats, self.cap_s, self.budget_s = repeats, cap_s, budget_s
        self.start = time.perf_counter()

    def over_budget(self):
        return self.budget_s is not None and time.perf_counter() - self.start > self.budget_s

    def __call__(self, once, repeats=None):
        """``(first_s, warm_s or None, n_warm, info, why)`` of ``once() -> (s, info)``.

        ``s`` is the figure reported (a whole run, or a per-step time); the
        cap counts wall time. A warm run starts only while the wall time of
        the warm runs so far plus one more as long as the last run fits in
        the cap: a slow job gets fewer repeats, none when its first run alone
        exceeds the cap.
        """
        repeats = self.repeats if repeats is None else repeats
        t0 = time.perf_counter()
        first, info = once()
        last, spent, warm, why = time.perf_counter() - t0, 0.0, [], ""
        if self.over_budget():
            why = "warm runs skipped: script budget spent"
        while not why and len(warm) < repeats:
            if spent + last > self.cap_s:
                why = "" if warm else f"warm runs skipped: first run over the {self.cap_s:g} s cap"
                break
            t0 = time.perf_counter()
            t, info = once()
            last = time.perf_counter() - t0
            spent += last
            warm.append(t)
        return first, median(warm), len(warm), info, why


def _seconds(s):
    if s is None:
        return "–"
    return f"{1e3 * s:.3g} ms" if s < 0.1 else f"{s:.3g} s"


def _row(job, where, result, target, notes=""):
    first, warm, n_warm, _, why = result
    warm_txt = f"{_seconds(warm)} (median of {n_warm})" if n_warm else "–"
    notes = "; ".join(x for x in (notes, why) if x)
    print(f"| {job} | {where} | {_seconds(first)} | {warm_txt} | {target} | {notes} |",
          flush=True)


def _failed(job, where, target, e):
    print(f"| {job} | {where} | failed | | {target} | {type(e).__name__}: {e} |", flush=True)


def _warned(caught):
    """The distinct warnings a job raised, as short notes (they explain slow rows)."""
    seen = dict.fromkeys(f"{w.category.__name__}: {str(w.message).splitlines()[0][:120]}"
                         for w in caught)
    return [f"warned {m}" for m in seen]


def _device_object(lib):
    """What ``MiniBatchKMeans(device=...)`` takes for this array kind."""
    if lib == "cupy":
        import cupy

        return cupy.cuda.Device()
    if lib == "torch-cuda":
        import torch

        return torch.device("cuda")
    return "cpu"


def _cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# ---------------------------------------------------------------- data


def photo_like(side, seed=0):
    """china.jpg upscaled (bilinear) to side x side uint8, plus uniform noise of +-6 levels."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    small = Image.fromarray(load_sample_image("china.jpg"))
    img = np.asarray(small.resize((side, side), Image.BILINEAR), dtype=np.int16)
    noise = np.random.default_rng(seed).integers(-6, 7, size=img.shape, dtype=np.int16)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def crops(image, n, side, seed=0):
    """``n`` side x side crops of ``image`` at random offsets, stacked (n, side, side, 3)."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, image.shape[0] - side + 1, size=n)
    cols = rng.integers(0, image.shape[1] - side + 1, size=n)
    return np.stack([image[r:r + side, c:c + side] for r, c in zip(rows, cols, strict=True)])


# ---------------------------------------------------------------- jobs


def knn_job(ctx, key, label):
    import xkmeans

    X_host, _ = load_data(key)
    X = impls.convert(X_host, ctx.lib)

    def once():
        t, G = timed(lambda: xkmeans.kneighbors_graph(X, 10), ctx.sync)
        return t, G.nnz

    result = ctx.run(once)
    return result, f"{label} {ctx.on}, {result[3]:,} entries"


def spectral_job(ctx, n):
    from sklearn.metrics import adjusted_rand_score

    import xkmeans

    X_host, y = load_data(("moons", n))
    X = impls.convert(X_host, ctx.lib)

    def once():
        est = xkmeans.SpectralClustering(2, affinity="nearest_neighbors", n_neighbors=10,
                                         random_state=0)
        t, est = timed(lambda: est.fit(X), ctx.sync)
        return t, adjusted_rand_score(y, impls.to_host(est.labels_))

    result = ctx.run(once)
    return result, f"ARI {result[3]:.4f} (target >= 0.99)"


def minibatch_job(ctx, n):
    from xkmeans import MiniBatchKMeans

    X_host, _ = load_data(("colour", n))
    X = impls.convert(X_host, ctx.lib)
    C0 = impls.convert(initial_centres(X_host, 16), ctx.lib)

    def fit(epochs):
        est = MiniBatchKMeans(16, init=C0, n_init=1, batch_size=MB_BATCH, max_iter=epochs,
                              tol=0, max_no_improvement=None, compute_labels=False,
                              random_state=0)
        return timed(lambda: est.fit(X), ctx.sync)

    def once():
        # The long fit first: in a first run, compilation lands in the per-step figure.
        (t3, e3), (t1, e1) = fit(MB_EPOCHS[1]), fit(MB_EPOCHS[0])
        steps = e3.n_steps_ - e1.n_steps_
        return (t3 - t1) / steps, (t3, e3.n_steps_, e1.n_steps_)

    result = ctx.run(once)
    t3, s3, s1 = result[3]
    return result, (f"{n:,} x 3 {ctx.on}; per step = (fit of {s3} steps - fit of {s1}) "
                    f"/ {s3 - s1}; whole {s3}-step fit / n_steps_ = {_seconds(t3 / s3)}")


def memmap_job(ctx, n, tmp):
    from xkmeans import MiniBatchKMeans

    X_host, _ = load_data(("colour", n))
    path = Path(tmp) / "colour.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=X_host.shape)
    mm[:] = X_host
    mm.flush()
    del mm
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=X_host.shape)
    device = _device_object(ctx.lib)

    def once():
        est = MiniBatchKMeans(16, batch_size=MB_BATCH, random_state=0, device=device)
        t, est = timed(lambda: est.fit(mm), ctx.sync)
        return t, est

    try:
        result = ctx.run(once)
    finally:
        path.unlink()  # the open mapping stays valid; the pages go with the last reference
    est = result[3]
    return result, (f"{n:,} x 3 float32 memmap, host -> {device}; n_steps_ {est.n_steps_}, "
                    f"inertia {float(est.inertia_):.6g}")


_CLI_TIME = re.compile(r"time\s+([\d.]+) s \(read ([\d.]+), quantize ([\d.]+), write ([\d.]+)\)")


def cli_job(ctx, jpeg, device):
    """Wall time of ``python -m xkmeans quantize`` as a process; the command's stages."""
    env = _child_env()
    out = Path(jpeg).with_name(f"out-{device}.png")
    cmd = [sys.executable, "-m", "xkmeans", "quantize", str(jpeg), "-o", str(out), "-k", "16",
           "--device", device]

    def once():
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env,
                              timeout=600)
        t = time.perf_counter() - t0
        if proc.returncode != 0:
            msg = f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-300:]}"
            raise RuntimeError(msg)
        m = _CLI_TIME.search(proc.stdout)
        psnr = re.search(r"PSNR\s+([\d.]+) dB", proc.stdout)
        return t, (float(m.group(3)) if m else None, psnr.group(1) if psnr else "?")

    try:
        result = ctx.run(once, repeats=ctx.cli_repeats)
    finally:
        out.unlink(missing_ok=True)
    stage, psnr = result[3]
    return result, f"quantize stage in the process {_seconds(stage)}, PSNR {psnr} dB"


def sklearn_recipe(image):
    """scikit-learn's colour-quantization recipe: fit on a pixel sample, predict all pixels."""
    from sklearn.cluster import KMeans

    px = image.reshape(-1, 3)
    idx = np.random.default_rng(0).choice(px.shape[0], size=min(SKLEARN_SAMPLE, px.shape[0]),
                                          replace=False)
    km = KMeans(16, n_init=1, random_state=0).fit(px[idx].astype(np.float32))
    return km.predict(px.astype(np.float32))


def stage_job(ctx, image):
    import xkmeans

    img = impls.convert(image, ctx.lib)

    def on(fn, sync):
        return lambda: timed(fn, sync)

    result = ctx.run(on(lambda: xkmeans.quantize(img, 16), ctx.sync))
    notes = [f"{image.shape[0]} x {image.shape[1]} uint8 {ctx.on}"]
    host_sync = impls.sync_for("numpy")
    if ctx.lib != "numpy":
        cpu = ctx.run(on(lambda: xkmeans.quantize(image, 16), host_sync))
        notes.append(f"xkmeans on the CPU {_seconds(cpu[1] or cpu[0])}")
    sk = ctx.run(on(lambda: sklearn_recipe(image), host_sync))
    notes.append(f"scikit-learn's recipe {_seconds(sk[1] or sk[0])} (same {_cores()} cores)")
    if ctx.lib == "numpy":
        ours = result[1] or result[0]
        notes.append(f"xkmeans / recipe {ours / (sk[1] or sk[0]):.2f}")
    return result, ", ".join(notes)


def batch_job(ctx, image, n, side):
    import xkmeans

    batch = impls.convert(crops(image, n, side), ctx.lib)

    def once():
        t, (palettes, _) = timed(lambda: xkmeans.quantize(batch, 16), ctx.sync)
        return t, tuple(palettes.shape)

    result = ctx.run(once)
    return result, (f"({n}, {side}, {side}, 3) uint8 {ctx.on}, palettes {result[3]}; "
                    f"{_seconds((result[1] or result[0]) / n)} per image")


# ---------------------------------------------------------------- main


class _Context:
    """What every job needs: the array kind, its clock sync and the runner."""

    def __init__(self, lib, run, cli_repeats):
        self.lib, self.run, self.cli_repeats = lib, run, cli_repeats
        self.sync = impls.sync_for(lib)
        self.on = "on the host" if lib == "numpy" else "on the device"
        self.where = "CPU (numpy)" if lib == "numpy" else f"GPU ({lib})"


def _record(job, target, fn, where):
    """Run one row's job, print its row (or its failure); the job's result or None."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, notes = fn()
        except Exception as e:  # noqa: BLE001 - one failing job is a row, not a crash
            _failed(job, where, target, e)
            return None
    _row(job, where, result, target, "; ".join([notes, *_warned(caught)]))
    return result


def run_job(name, ctx, q, tmp):
    """Print the rows of job ``name`` (one of JOBS) in this process."""
    where = ctx.where

    def row(job, target, fn, where=where):
        return _record(job, target, fn, where)

    if name == "knn":
        n = KNN_LOW[q]
        row(f"10-NN graph, {n:,} x 2", "<= 1.0 s",
            lambda: knn_job(ctx, ("moons", n), "moons"))
        n, d, k = KNN_HIGH[q]
        row(f"10-NN graph, {n:,} x {d}", "<= 0.3 s",
            lambda: knn_job(ctx, ("embeddings", n, d, k), f"W2 embeddings ({k} clusters)"))
    elif name == "spectral":
        small, big = MOONS[q]
        r = row(f"spectral, moons {small:,}", "<= 0.3 s", lambda: spectral_job(ctx, small))
        took = None if r is None else (r[1] or r[0])
        if took is not None and took > SPECTRAL_SKIP_S:
            print(f"| spectral, moons {big:,} | {where} | skipped | | <= 3 s | the "
                  f"{small:,} row took {took:.1f} s (> {SPECTRAL_SKIP_S:g} s) |", flush=True)
        else:
            row(f"spectral, moons {big:,}", "<= 3 s", lambda: spectral_job(ctx, big))
    elif name == "minibatch":
        row(f"mini-batch step, batch {MB_BATCH}, d=3, k=16", "<= 0.1 ms",
            lambda: minibatch_job(ctx, MB_ROWS[q]))
    elif name == "memmap":
        n = MEMMAP_ROWS[q]
        row(f"streamed memmap {n:,} x 3, k=16, batch {MB_BATCH}", "<= 1.0 s",
            lambda: memmap_job(ctx, n, tmp))
    elif name in ("cli", "stage", "batch"):
        side = IMAGE_SIDE[q]
        try:
            image = _image(side)
        except Exception as e:  # noqa: BLE001 - the image rows say why they cannot run
            _failed(f"{name}: the {side} x {side} test image", where, "", e)
            return
        if name == "cli":
            cli_rows(ctx, image, tmp)
        elif name == "stage":
            row(f"quantize stage alone, {side} x {side}, k=16",
                "<= 0.1 s GPU; CPU no slower than scikit-learn's recipe",
                lambda: stage_job(ctx, image))
        else:
            n, s = BATCH[q]
            row(f"{n} images of {s} x {s}, k=16 each, batched", "<= 2 s",
                lambda: batch_job(ctx, image, n, s))
    else:
        msg = f"Unknown job {name!r}; jobs: {', '.join(JOBS)}."
        raise ValueError(msg)


@functools.lru_cache(maxsize=1)
def _image(side):
    return photo_like(side)


def cli_rows(ctx, image, tmp):
    """``xkmeans quantize`` as a process: ``--device cpu``, then ``--device gpu`` beside it."""
    from PIL import Image

    side = image.shape[0]
    jpeg = Path(tmp) / "in.jpg"
    Image.fromarray(image).save(jpeg, quality=90)
    try:
        job = f"`xkmeans quantize` {side} x {side} JPEG, k=16"
        cpu = _record(f"{job}, `--device cpu`", "reference for GPU < CPU",
                      lambda: cli_job(ctx, jpeg, "cpu"), "CPU (numpy), process")
        if ctx.lib == "numpy":
            return

        def gpu():
            result, notes = cli_job(ctx, jpeg, "gpu")
            if cpu is not None:
                ratio = (result[1] or result[0]) / (cpu[1] or cpu[0])
                notes += f"; GPU / CPU {ratio:.2f}"
            return result, notes

        _record(f"{job}, `--device gpu`", "<= 1.2 s GPU warm, GPU < CPU", gpu,
                "GPU (cupy), process")
    finally:
        jpeg.unlink(missing_ok=True)


# ---------------------------------------------------------------- main

JOBS = ("knn", "spectral", "minibatch", "memmap", "cli", "stage", "batch")


def _child_env():
    import xkmeans

    root = str(Path(xkmeans.__file__).resolve().parent.parent)
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])]))


def run_isolated(name, args, lib, where, budget_left):
    """Job ``name`` in a child process, its rows echoed; past ``--job-timeout`` it is killed.

    A job that hangs or crashes the interpreter then costs its own rows only:
    the rows it finished are kept and a row says what happened.
    """
    cmd = [sys.executable, "-m", "benchmarks.gpu_jobs", "--lib", lib, "--jobs", name,
           "--no-header", "--cap", str(args.cap)]
    if args.quick:
        cmd.append("--quick")
    if args.repeats is not None:
        cmd += ["--repeats", str(args.repeats)]
    if budget_left is not None:
        cmd += ["--budget", str(max(budget_left, 0.0))]
    timeout = args.job_timeout or None
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True,
                              env=_child_env(), timeout=timeout)
        out, err, why = proc.stdout, proc.stderr, None
        if proc.returncode != 0:
            why = f"exit {proc.returncode}: {err.strip()[-300:]}"
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        why = f"killed after the {timeout:g} s job timeout (rows above, if any, had finished)"
    for line in out.splitlines():
        if line.startswith("| "):
            print(line, flush=True)
    if why is not None:
        print(f"| {name} | {where} | failed | | | {why} |", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lib", default=None,
                   help="cupy (default when it sees a GPU), torch (CUDA) or numpy")
    p.add_argument("--quick", action="store_true", help="tiny sizes, one warm run")
    p.add_argument("--jobs", default=",".join(JOBS),
                   help=f"comma-separated subset of {', '.join(JOBS)} (default: all)")
    p.add_argument("--repeats", type=int, default=None, help="warm runs (default 3; quick 1)")
    p.add_argument("--cap", type=float, default=10.0,
                   help="seconds of warm runs per job at most (default 10)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds for the whole script; past it, jobs run once")
    p.add_argument("--isolate", action="store_true",
                   help="each job in its own process, killed after --job-timeout")
    p.add_argument("--job-timeout", type=float, default=60.0,
                   help="with --isolate: seconds per job, 0 for none (default 60)")
    p.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    lib = args.lib or (impls.gpu_libs()[0] if impls.gpu_libs() else "numpy")
    if lib == "torch":
        lib = "torch-cuda"
    q = int(args.quick)
    jobs = [j for j in JOBS if j in {x.strip() for x in args.jobs.split(",")}]
    repeats = args.repeats if args.repeats is not None else (1 if q else 3)
    # Quick: one process per command-line row (each spends seconds importing here).
    ctx = _Context(lib, Runner(repeats, args.cap, args.budget), 0 if q else repeats)
    if not args.no_header:
        print(f"Issue 13 jobs on {ctx.where}{' (quick sizes)' if q else ''}; first run, then "
              f"the median of up to {repeats} warm runs ({args.cap:g} s of warm runs per job "
              f"at most){'; each job in its own process' if args.isolate else ''}")
        print("| job | where | first run | warm | target | notes |")
        print("|---|---|---|---|---|---|", flush=True)
    if args.isolate:
        start = time.perf_counter()
        for name in jobs:
            left = (None if args.budget is None else
                    args.budget - (time.perf_counter() - start))
            run_isolated(name, args, lib, ctx.where, left)
        return 0
    with tempfile.TemporaryDirectory(prefix="xkmeans-jobs-") as tmp:
        for name in jobs:
            run_job(name, ctx, q, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
