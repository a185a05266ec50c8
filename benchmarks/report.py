"""Environment capture, the markdown table, the JSON file and the bar charts."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys

_DISTS = ["numpy", "scipy", "scikit-learn", "torch", "cupy-cuda12x", "cupy-cuda13x", "cupy",
          "faiss-cpu", "fast-pytorch-kmeans", "flash-kmeans", "triton", "array-api-compat",
          "array-api-strict", "matplotlib"]
_THREAD_VARS = ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def environment(gpu_libs) -> dict:
    """Versions, CPU and GPU, thread settings: enough to reproduce a row."""
    import xkmeans

    versions = {"python": platform.python_version()}
    for dist in _DISTS:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True,
                                text=True, cwd=os.path.dirname(xkmeans.__file__),
                                timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    env = {
        "versions": versions,
        "xkmeans": {"version": xkmeans.__version__, "file": xkmeans.__file__, "commit": commit,
                    "fast_paths": xkmeans.get_config()["fast_paths"]},
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "thread_env": {v: os.environ[v] for v in _THREAD_VARS if v in os.environ},
        "gpu": None,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    try:
        from threadpoolctl import threadpool_info

        env["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
            for p in threadpool_info()
        ]
    except ImportError:
        pass
    if "torch" in sys.modules:
        env["torch_threads"] = sys.modules["torch"].get_num_threads()
    if "cupy" in gpu_libs:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        env["gpu"] = {"name": props["name"].decode(), "memory_bytes": props["totalGlobalMem"],
                      "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion()}
    elif "torch" in gpu_libs:
        import torch

        props = torch.cuda.get_device_properties(0)
        env["gpu"] = {"name": props.name, "memory_bytes": props.total_memory,
                      "cuda_runtime": torch.version.cuda}
    return env


# ---------------------------------------------------------------- table


def _fmt(x, digits=3):
    if x is None:
        return "-"
    if x == 0:
        return "0"
    mag = abs(x)
    if mag >= 10 ** digits:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _ratio(x):
    return "-" if x is None else f"{x:.2f}"


def markdown(doc: dict) -> str:
    """One table per workload, then the hardware the floors come from."""
    lines = []
    by_workload = {}
    for row in doc["results"]:
        by_workload.setdefault(row["workload"], []).append(row)
    for w in doc["workloads"]:
        rows = by_workload.get(w["name"], [])
        if not rows:
            continue
        spectral = w["kind"] == "spectral"
        lines.append(f"### {w['name']}: n={w['n']:,} d={w['d']} k={w['k']} ({w['note']})")
        lines.append("")
        if spectral:
            lines.append("| implementation | dev | fit s | x sklearn | ARI | peak MiB | status |")
            lines.append("|---|---|---|---|---|---|---|")
        else:
            lines.append("| implementation | dev | ms/iter | iters | fit s | x sklearn | "
                         "inertia | d inertia | peak MiB | floor ms | x floor |")
            lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        skipped = {}
        for r in rows:
            if r["status"].startswith("skipped"):
                skipped.setdefault(r["status"], []).append(r["impl"])
                continue
            if r["status"] != "ok":
                blank = 5 if spectral else 9
                lines.append(f"| {r['impl']} | {r['device']} | {r['status']} |"
                             + " |" * blank)
                continue
            peak = None if r["peak_bytes"] is None else r["peak_bytes"] / 2**20
            if spectral:
                lines.append(
                    f"| {r['impl']} | {r['device']} | {_fmt(r['fit_s'])} | "
                    f"{_ratio(r['vs_sklearn'])} | {_fmt((r['score'] or {}).get('ari'))} | "
                    f"{_fmt(peak)} | ok |")
                continue
            per = r["ms_per_iter"]
            unit = " /step" if r["unit"] == "step" else ""
            mark = "*" if r["per_iter_method"] != "difference" and r["unit"] == "iter" else ""
            d_in = r["inertia_vs_sklearn"]
            lines.append(
                f"| {r['impl']} | {r['device']} | {_fmt(per)}{mark}{unit} | {r['n_iter']} | "
                f"{_fmt(r['fit_s'])} | {_ratio(r['vs_sklearn'])} | {r['inertia']:.6g} | "
                f"{'-' if d_in is None else f'{100 * d_in:+.2f}%'} | {_fmt(peak)} | "
                f"{_fmt(r['floor_ms'])} | {_fmt(r['floor_ratio'])} |")
        lines.append("")
        for status, names in skipped.items():
            lines.append(f"- {status}: {', '.join(names)}")
        if skipped:
            lines.append("")
    p = doc["protocol"]
    lines.append(
        f"ms/iter: (median time of {p['repeats']} fits of {p['m_hi']} iterations - median of "
        f"{p['repeats']} fits of {p['m_lo']}) / difference of n_iter_, after one warm-up fit; "
        "* = converged within the short fit (or the difference was lost in noise), so fit "
        "time / n_iter_ (set-up included). "
        f"Mini-batch rows: fit time / n_steps_ (batch min({p['minibatch_batch_size']}, n/8), "
        f"{p['minibatch_epochs']} epoch). d inertia: float64 inertia relative to "
        "sklearn-lloyd. x sklearn: time relative to sklearn-lloyd (sklearn-spectral). "
        "peak: extra memory during one fit (tracemalloc for NumPy rows, sampled RSS growth "
        "for torch-CPU and faiss rows, pool / allocator peak on the GPU)."
    )
    for dev, hw in doc["floor"].items():
        if hw is None:
            continue
        tf32 = "" if hw.get("tf32_flops") is None else f", TF32 {hw['tf32_flops'] / 1e12:.1f} T"
        lines.append(
            f"Floor ({dev}): copy {hw['bandwidth_Bps'] / 1e9:.1f} GB/s (read + write), "
            f"float32 matmul {hw['fp32_flops'] / 1e9:,.0f} GFLOP/s{tf32}; floor per iteration "
            "= max(n d 4 bytes / bandwidth, (2 n k d + 2 n k) / float32 rate).")
    return "\n".join(lines)


# ---------------------------------------------------------------- plots


def _bars(ax, doc, w, rows):
    spectral = w["kind"] == "spectral"
    values = [r["fit_s"] if spectral else r["ms_per_iter"] for r in rows]
    labels = [r["impl"] + (" (per step)" if r["unit"] == "step" else "") for r in rows]
    colours = ["tab:orange" if r["device"] == "gpu" else "tab:blue" for r in rows]
    ax.barh(range(len(rows)), values, color=colours)
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("fit time (s)" if spectral else "ms per iteration")
    for dev, style in (("cpu", ":"), ("gpu", "--")):
        floors = [r["floor_ms"] for r in rows if r["device"] == dev and r["floor_ms"]]
        if floors and not spectral:
            ax.axvline(floors[0], color="k", linestyle=style, label=f"{dev} floor")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right")
    ax.set_title(f"{w['name']}: n={w['n']:,} d={w['d']} k={w['k']} ({doc['size']} size)")


def plot(doc: dict, target: str, prefix: str) -> list[str]:
    """Horizontal bar charts (log time axis), blue CPU rows, orange GPU rows.

    ``target`` a directory: one PNG per workload. ``target`` ending in
    ``.png``: all workloads as panels of that one file. Returns the files.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for w in doc["workloads"]:
        rows = [r for r in doc["results"] if r["workload"] == w["name"] and r["status"] == "ok"]
        if rows:
            panels.append((w, rows))
    if not panels:
        return []
    if target.endswith(".png"):
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        heights = [0.4 * len(rows) + 1.4 for _, rows in panels]
        fig, axes = plt.subplots(len(panels), 1, figsize=(7, sum(heights)),
                                 gridspec_kw={"height_ratios": heights}, squeeze=False)
        for ax, (w, rows) in zip(axes[:, 0], panels):
            _bars(ax, doc, w, rows)
        fig.tight_layout()
        fig.savefig(target, dpi=80)
        plt.close(fig)
        return [target]
    os.makedirs(target, exist_ok=True)
    files = []
    for w, rows in panels:
        fig, ax = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.4))
        _bars(ax, doc, w, rows)
        fig.tight_layout()
        path = os.path.join(target, f"{prefix}{w['name']}.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        files.append(path)
    return files
