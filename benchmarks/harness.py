"""The command line and the run loop; see the package docstring for the method."""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import sys
import time
import traceback
import warnings

from . import impls as impls_mod
from . import measure, report
from . import workloads as workloads_mod

RESULTS_DIR = os.path.join(os.path.dirname(__file__), "results")


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time xkmeans on every installed backend against its peers.")
    p.add_argument("--size", choices=("cpu", "gpu"), default=None,
                   help="workload size (default: gpu when CuPy sees a GPU, else cpu)")
    p.add_argument("--quick", action="store_true",
                   help="small data, few iterations (under a minute on 2 cores)")
    p.add_argument("--workloads", default=None,
                   help="comma-separated names or families, fnmatch patterns (colour,digits)")
    p.add_argument("--impls", default=None,
                   help="comma-separated implementation names or patterns (xkmeans-*,sklearn-*)")
    p.add_argument("--json", default=None, help="JSON path (default: benchmarks/results/...)")
    p.add_argument("--plot", default=None, help="directory for one PNG chart per workload "
                   "(default: beside the JSON), or a FILE.png for one figure with all of them")
    p.add_argument("--no-plot", action="store_true", help="write no PNG")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (3; quick 2)")
    p.add_argument("--iters", default=None,
                   help="short,long iteration counts to difference (5,20; quick 2,5)")
    p.add_argument("--list", action="store_true", help="list workloads and implementations")
    return p


def _default_size() -> str:
    return "gpu" if impls_mod.cupy_gpu() else "cpu"


def _free_gpu(libs):
    gc.collect()
    if "cupy" in libs:
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()
    if "torch" in libs:
        import torch

        torch.cuda.empty_cache()


def _row(w, impl, status, **extra):
    row = {"workload": w.name, "impl": impl.name, "device": impl.device, "kind": impl.kind,
           "status": status, "unit": None, "ms_per_iter": None, "per_iter_method": None,
           "n_iter": None, "fit_s": None, "inertia": None, "inertia_vs_sklearn": None,
           "vs_sklearn": None, "peak_bytes": None, "peak_method": impl.mem, "floor_ms": None,
           "floor_tf32_ms": None, "floor_ratio": None, "score": None, "times": None}
    row.update(extra)
    return row


def _time_lloyd(impl, X, C0, proto, sync):
    m_lo, m_hi = proto["m_lo"], proto["m_hi"]
    fit = impl.fit
    measure.timed(lambda: fit(X, C0, m_lo), sync)  # warm-up: caches, kernels, threads
    lo, hi = [], []
    for _ in range(proto["repeats"]):
        t, (_, n) = measure.timed(lambda: fit(X, C0, m_lo), sync)
        lo.append((t, int(n)))
        t, (C, n) = measure.timed(lambda: fit(X, C0, m_hi), sync)
        hi.append((t, int(n)))
    n_lo, n_hi = {n for _, n in lo}, {n for _, n in hi}
    t_lo, t_hi = measure.median([t for t, _ in lo]), measure.median([t for t, _ in hi])
    per = method = None
    if len(n_lo) == len(n_hi) == 1 and max(n_hi) > max(n_lo):
        # Difference of the median times: robust to one slow repeat on either side.
        per, method = (t_hi - t_lo) / (max(n_hi) - max(n_lo)), "difference"
    if per is None or per <= 0:
        # Converged within the short fit, or the difference drowned in noise
        # (tiny data): fall back to the whole fit per iteration, set-up included.
        per, method = measure.median([th / nh for th, nh in hi]), "total/n_iter"
    times = {"m_lo": m_lo, "m_hi": m_hi, "lo": lo, "hi": hi}
    return C, hi[-1][1], per, method, t_hi, times


def _time_minibatch(impl, X, C0, proto, sync):
    # One fit of one epoch (mini-batch fits on the CPU peers take seconds each):
    # time per step is fit time / n_steps_, set-up included.
    batch = impls_mod.minibatch_batch_size(X.shape[0])
    t, (C, n) = measure.timed(lambda: impl.fit(X, C0, proto["minibatch_epochs"]), sync)
    return C, int(n), t / max(int(n), 1), "total/n_steps", t, {"fit": [t], "batch_size": batch}


def run_kmeans_row(w, impl, X_host, y, X, C0, proto, floors, inertia_gpu):
    sync = impls_mod.sync_for(impl.array)
    timer = _time_minibatch if impl.kind == "minibatch" else _time_lloyd
    C, n_iter, per, method, fit_s, times = timer(impl, X, C0, proto, sync)
    m_mem = 1 if impl.kind == "minibatch" else proto["m_lo"]
    if impl.kind != "minibatch" or proto["quick"]:
        with measure.track_memory(impl.mem) as peak:
            impl.fit(X, C0, m_mem)
            sync()
        peak_bytes = peak["bytes"]
    else:
        peak_bytes = None  # a second long mini-batch fit only for memory is not worth it
    from xkmeans._backend import to_numpy

    inertia, labels = measure.inertia64(X_host, to_numpy(C), gpu=inertia_gpu)
    hw = floors.get(impl.device)
    floor = tf32 = None
    if hw is not None and impl.kind == "kmeans":
        floor = measure.floor_seconds(w.n, w.d, w.k, hw)
        tf32 = measure.floor_seconds(w.n, w.d, w.k, hw, tf32=True)
    return _row(
        w, impl, "ok", unit="step" if impl.kind == "minibatch" else "iter",
        ms_per_iter=1e3 * per, per_iter_method=method, n_iter=n_iter, fit_s=fit_s,
        inertia=inertia, peak_bytes=peak_bytes, times=times,
        floor_ms=None if floor is None else 1e3 * floor,
        floor_tf32_ms=None if tf32 is None else 1e3 * tf32,
        floor_ratio=None if floor is None else per / floor,
        score=None if y is None else measure.scores(y, labels))


def run_spectral_row(w, impl, X, y, proto):
    from xkmeans._backend import to_numpy

    sync = impls_mod.sync_for(impl.array)
    repeats = proto["repeats"] if w.n <= 50_000 else 1
    measure.timed(lambda: impl.fit(X, w.k), sync)  # warm-up
    times = []
    for _ in range(repeats):
        t, labels = measure.timed(lambda: impl.fit(X, w.k), sync)
        times.append(t)
    with measure.track_memory(impl.mem) as peak:
        impl.fit(X, w.k)
        sync()
    return _row(w, impl, "ok", unit="fit", fit_s=measure.median(times),
                peak_bytes=peak["bytes"], times={"fit": times},
                score=measure.scores(y, to_numpy(labels)))


def _skip_reason(w, impl, size, explicit):
    reason = impl.unavailable()
    if reason is not None:
        return reason
    if size == "gpu" and impl.device == "cpu" and not w.small and impl.name not in explicit:
        return "skipped (CPU row at GPU size; name it in --impls to run)"
    if impl.name == "sklearn-elkan" and w.k >= 1024:
        return "skipped (elkan holds k x k and n x k bounds)"
    return None


def _write_json(doc, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, default=str)
    os.replace(tmp, path)


def _json_path(args, size, quick):
    if args.json:
        return args.json
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join(RESULTS_DIR, f"bench-{size}{'-quick' if quick else ''}-{stamp}.json")


def run(args) -> dict:
    size = args.size or _default_size()
    quick = args.quick
    m_lo, m_hi = (2, 5) if quick else (5, 20)
    if args.iters:
        m_lo, m_hi = (int(v) for v in args.iters.split(","))
    proto = {"m_lo": m_lo, "m_hi": m_hi, "repeats": args.repeats or 3,
             "quick": quick, "dtype": "float32", "tol": 0,
             "init": "k rows of X without replacement, numpy.random.default_rng(0)",
             "minibatch_batch_size": impls_mod.MINIBATCH_BATCH_SIZE,
             "minibatch_batch_rule": "min(batch, n // 8)", "minibatch_epochs": 1}
    all_w = workloads_mod.workloads(size, quick)
    chosen_w = workloads_mod.select(all_w, args.workloads)
    if not chosen_w:
        msg = f"--workloads {args.workloads} matches none of: {', '.join(w.name for w in all_w)}."
        raise SystemExit(msg)
    chosen_i, explicit = impls_mod.select(args.impls)
    # Only look for a GPU (importing torch) when a GPU row is asked for.
    gpu_libs = impls_mod.gpu_libs() if any(i.device == "gpu" for i in chosen_i) else ()
    inertia_gpu = gpu_libs[0] if gpu_libs else None

    floors = {"cpu": None, "gpu": None}
    kmeans_rows = any(w.kind == "kmeans" for w in chosen_w)
    if kmeans_rows and any(i.device == "cpu" and i.kind == "kmeans" for i in chosen_i):
        floors["cpu"] = measure.cpu_floor(quick)
    if kmeans_rows and gpu_libs and any(i.device == "gpu" for i in chosen_i):
        floors["gpu"] = measure.gpu_floor(gpu_libs[0], quick)

    path = _json_path(args, size, quick)
    doc = {"schema": 1, "json_path": path, "partial": True, "created": datetime.datetime.now().isoformat(timespec="seconds"),
           "argv": sys.argv[1:], "size": size, "quick": quick, "protocol": proto,
           "floor": floors,
           "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None, "inertia_computed_on": inertia_gpu or "host",
           "workloads": [dict(vars(w), data=list(w.data)) for w in chosen_w], "results": [],
           "environment": report.environment(gpu_libs)}
    for w in chosen_w:
        rows = [i for i in chosen_i if impls_mod.applies(i, w)]
        if not rows:
            continue
        X_host, y = workloads_mod.load_data(w.data)
        C0_host = workloads_mod.initial_centres(X_host, w.k)
        converted = {}
        print(f"# {w.name}: n={w.n:,} d={w.d} k={w.k}", file=sys.stderr, flush=True)
        for impl in rows:
            reason = _skip_reason(w, impl, size, explicit)
            if reason is not None:
                doc["results"].append(_row(w, impl, reason))
                continue
            t_row = time.perf_counter()
            try:
                if impl.array not in converted:
                    converted[impl.array] = (impls_mod.convert(X_host, impl.array),
                                             impls_mod.convert(C0_host, impl.array))
                X, C0 = converted[impl.array]
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    if w.kind == "spectral":
                        row = run_spectral_row(w, impl, X, y, proto)
                    else:
                        row = run_kmeans_row(w, impl, X_host, y, X, C0, proto, floors,
                                             inertia_gpu)
                # Kept in the JSON (once each) rather than repeated on stderr per fit.
                row["warnings"] = sorted({f"{c.category.__name__}: {c.message}" for c in caught})
            except Exception as e:  # noqa: BLE001 -- a failing row is reported, not hidden
                traceback.print_exc()
                row = _row(w, impl, f"error: {type(e).__name__}: {str(e)[:200]}")
            doc["results"].append(row)
            shown = row["ms_per_iter"] if row["ms_per_iter"] is not None else row["fit_s"]
            row["wall_s"] = time.perf_counter() - t_row
            print(f"  {impl.name}: {row['status']} {shown} ({row['wall_s']:.1f} s)",
                  file=sys.stderr, flush=True)
        del converted
        _free_gpu(gpu_libs)
        _compare_to_sklearn(doc["results"])
        _write_json(doc, path)  # a run cut short still leaves the finished workloads
    _compare_to_sklearn(doc["results"])
    doc["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    return doc


def _compare_to_sklearn(results):
    ref = {}
    for r in results:
        if r["status"] == "ok" and r["impl"] in ("sklearn-lloyd", "sklearn-spectral"):
            ref[r["workload"]] = r
    for r in results:
        base = ref.get(r["workload"])
        if base is None or r["status"] != "ok":
            continue
        if r["kind"] == "spectral":
            r["vs_sklearn"] = r["fit_s"] / base["fit_s"]
            continue
        if r["unit"] == "iter":
            r["vs_sklearn"] = r["ms_per_iter"] / base["ms_per_iter"]
        r["inertia_vs_sklearn"] = r["inertia"] / base["inertia"] - 1 if base["inertia"] else None


def _list():
    for size in ("cpu", "gpu"):
        print(f"workloads ({size} size):")
        for w in workloads_mod.workloads(size):
            print(f"  {w.name:14s} n={w.n:<11,} d={w.d:<4} k={w.k:<5} {w.note}")
    print("implementations:")
    for i in impls_mod.IMPLS:
        print(f"  {i.name:26s} {i.kind:9s} {i.array:10s} {i.unavailable() or 'available'}")


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        _list()
        return 0
    doc = run(args)
    path = doc["json_path"]
    tag = f"{doc['size']}{'-quick' if doc['quick'] else ''}"
    plots = []
    if not args.no_plot:
        plot_dir = args.plot or os.path.dirname(os.path.abspath(path))
        try:
            plots = report.plot(doc, plot_dir, prefix=f"bench-{tag}-")
        except ImportError as e:
            print(f"no plots: {e}", file=sys.stderr)
    doc["plots"] = plots
    doc["partial"] = False
    _write_json(doc, path)
    print(report.markdown(doc))
    print(f"\nJSON: {path}" + (f"; plots: {len(plots)} PNG in {os.path.dirname(plots[0])}"
                              if plots else "; no plot"))
    return 1 if any(r["status"].startswith("error") for r in doc["results"]) else 0
