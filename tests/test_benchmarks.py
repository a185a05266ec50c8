"""The benchmark harness runs end to end (``--quick``, tiny subset); no time is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import xkmeans

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not (ROOT / "benchmarks").is_dir(), reason="benchmarks/ not in this tree")
def test_quick_harness_writes_table_json_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--size", "cpu",
           "--workloads", "digits,moons-1k",
           "--impls", ("xkmeans-numpy,naive-numpy,sklearn-lloyd,sklearn-minibatch,"
                       "xkmeans-spectral-numpy,sklearn-spectral"),
           "--repeats", "1", "--json", str(out), "--plot", str(tmp_path)]
    proc = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "### digits" in proc.stdout and "| sklearn-lloyd |" in proc.stdout

    doc = json.loads(out.read_text())
    assert doc["size"] == "cpu" and doc["quick"] is True
    assert {"m_lo", "m_hi", "repeats", "init"} <= set(doc["protocol"])
    assert doc["environment"]["versions"]["numpy"]
    assert doc["environment"]["xkmeans"]["file"] == xkmeans.__file__
    assert doc["environment"]["cpu_count"] >= 1
    assert doc["floor"]["cpu"]["bandwidth_Bps"] > 0 and doc["floor"]["cpu"]["fp32_flops"] > 0

    rows = {r["impl"]: r for r in doc["results"]}
    for name in ("xkmeans-numpy", "naive-numpy", "sklearn-lloyd"):
        r = rows[name]
        assert r["status"] == "ok", r["status"]
        assert r["workload"] == "digits" and r["unit"] == "iter"
        assert r["ms_per_iter"] > 0 and r["fit_s"] > 0 and r["n_iter"] >= 1
        assert r["per_iter_method"] in ("difference", "total/n_iter")
        assert r["inertia"] > 0 and r["floor_ms"] > 0 and r["floor_ratio"] > 0
        assert r["peak_method"] == "tracemalloc" and r["peak_bytes"] >= 0
        assert 0 <= r["score"]["accuracy"] <= 1
    # Same init, exact Lloyd: the final inertias agree with scikit-learn's.
    assert abs(rows["xkmeans-numpy"]["inertia_vs_sklearn"]) < 1e-3
    assert rows["sklearn-minibatch"]["status"] == "ok"
    assert rows["sklearn-minibatch"]["unit"] == "step"
    assert rows["sklearn-spectral"]["status"] == "ok"
    assert rows["sklearn-spectral"]["score"]["ari"] > 0.9
    spectral = rows["xkmeans-spectral-numpy"]["status"]
    if hasattr(xkmeans, "SpectralClustering"):
        assert spectral == "ok"
    else:
        assert spectral == "skipped (xkmeans.SpectralClustering not available)"
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["bench-cpu-quick-digits.png", "bench-cpu-quick-moons-1k.png"]


@pytest.mark.skipif(not (ROOT / "benchmarks").is_dir(), reason="benchmarks/ not in this tree")
def test_mixture_rows_run_and_agree_with_sklearn():
    """benchmarks.mixture: same init, same iterations, so the same lower bound and scores."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    cmd = [sys.executable, "-m", "benchmarks.mixture", "--size", "tiny", "--iters", "3"]
    proc = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    gmm = next(line for line in out.splitlines() if line.startswith("GMM fit"))
    ours, theirs = gmm.split("lower_bound_ ")[1].split(" vs ")
    assert float(ours) == pytest.approx(float(theirs), rel=1e-6)
    scores = [line.rsplit("score ", 1)[1].split(" vs ") for line in out.splitlines()
              if "  score " in line]
    assert len(scores) == 3
    for a, b in scores:
        assert float(a) == pytest.approx(float(b), rel=1e-5)


def test_gpu_advanced_rows_run_at_quick_size(capsys):
    """The issue-16 GPU rows (k-means||, pruned Lloyd, sparse X) run end to end;
    at quick size on NumPy here, so that the GPU run does not find a broken script."""
    from benchmarks import gpu_advanced

    assert gpu_advanced.main(["--lib", "numpy", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "failed" not in out
    for row in ("| k-means|| |", "| elkan |", "| lloyd, 3 iterations |"):
        assert row in out


def test_gpu_jobs_rows_run_at_quick_size(capsys):
    """The issue-13 GPU jobs (k-NN graphs, spectral, mini-batch, memmap, the quantize command,
    stage and batch) run end to end; on NumPy at quick size here, GPU-only rows on the CPU."""
    pytest.importorskip("PIL")
    from benchmarks import gpu_jobs

    assert gpu_jobs.main(["--lib", "numpy", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "failed" not in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + 9  # the header, then one row per job (one command row on the CPU)
    for row in ("| 10-NN graph, 20,000 x 2 |", "| spectral, moons 3,000 |",
                "| mini-batch step, batch 4096, d=3, k=16 |", "`--device cpu`",
                "| quantize stage alone, 256 x 256, k=16 |", "palettes (8, 16, 3)"):
        assert row in out
    assert out.count("ARI 1.0000") == 2


def test_gpu_jobs_isolated_rows_are_echoed_and_a_timeout_is_a_row(capsys):
    """--isolate (what gpu_check.sh runs): a job's rows come back from its own process, and
    a job killed at --job-timeout prints a failed row instead of ending the table."""
    from benchmarks import gpu_jobs

    common = ["--lib", "numpy", "--quick", "--isolate"]
    assert gpu_jobs.main([*common, "--jobs", "minibatch", "--job-timeout", "300"]) == 0
    out = capsys.readouterr().out
    assert "| mini-batch step, batch 4096, d=3, k=16 | CPU (numpy) |" in out
    assert "failed" not in out
    assert gpu_jobs.main([*common, "--jobs", "knn", "--job-timeout", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "| knn | CPU (numpy) | failed | | | killed after the 0.01 s job timeout" in out
