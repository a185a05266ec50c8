"""Backend benchmark harness: ``python -m benchmarks`` (see ``--help``).

Runs the workloads of ``shared/BENCHMARKS.md`` (colour W1 at k = 16, 64,
256; china.jpg at k = 16; embeddings W2; digits; moons for spectral
clustering) at a CPU size or a GPU size on xkmeans (every installed
backend), the peers that are installed (scikit-learn Lloyd / Elkan /
MiniBatchKMeans / SpectralClustering, faiss-cpu, fast-pytorch-kmeans,
flash-kmeans) and the "straightforward" NumPy / PyTorch / CuPy loops, and
prints one markdown table per workload; ``--json`` and ``--plot`` keep the
numbers and a bar chart per workload.

How a Lloyd row is timed
------------------------
- Data: float32, generated on the host from a fixed seed, converted to the
  implementation's array type and device before any clock starts.
- Init: k rows of X drawn without replacement with
  ``numpy.random.default_rng(0)``, passed as an explicit init array
  (``KMeans(init=C0, n_init=1, tol=0)`` for xkmeans and scikit-learn,
  ``init_centroids`` for faiss and flash-kmeans, ``centroids`` for
  fast-pytorch-kmeans). No k-means++ is timed.
- Per-iteration time by differencing whole fits: after one warm-up fit
  (excluded), each repeat times a fit of ``m_lo`` and a fit of ``m_hi``
  iterations (5 and 20; ``--quick`` 2 and 5), the device synchronised before
  each clock read. Time per iteration = (t_hi - t_lo) / (n_iter_hi -
  n_iter_lo), with the iteration counts the implementation reports
  (``n_iter_``: xkmeans and scikit-learn stop early on strict convergence,
  even at tol=0; fast-pytorch-kmeans' count is taken by counting its
  assignment calls), where t_hi and t_lo are the medians over the repeats
  (3). Per-fit costs (validation, centring, |x|^2, the final
  re-assignment) appear in both fits and cancel, so the number is the cost
  of one E-step + M-step + the convergence check, as each library runs it.
  Where a fit converges within ``m_lo`` iterations there is nothing to
  difference, and on tiny data the difference can drown in noise (<= 0):
  such rows report (fit time) / n_iter_ instead, marked ``*`` in the table
  and ``per_iter_method: "total/n_iter"`` in the JSON.
- Total fit time: median time of the ``m_hi`` fit.
- Inertia: of the final centres on all of X, recomputed by the harness in
  float64 (on the host; on a GPU box in float64 on the GPU, because the
  host's single-threaded NumPy would take minutes on 16.7 M x 256 pairs).
- Peak memory: one extra untimed fit of ``m_lo`` iterations; extra bytes
  above what was allocated before it: tracemalloc for NumPy rows (it sees
  NumPy's allocations, not those of compiled code that calls malloc),
  sampled RSS growth for torch-CPU and faiss rows, the CuPy memory pool's used bytes
  at each allocation, ``torch.cuda.max_memory_allocated`` for torch-CUDA.
- The floor: the harness measures the CPU's memory bandwidth (a parallel
  ``np.copyto``) and float32 matmul rate (NumPy), and on a GPU the
  device-to-device copy bandwidth and float32 and TF32 matmul rates, once.
  Floor per iteration = max(n d 4 bytes / bandwidth, (2 n k d + 2 n k) /
  float32 rate) as in BENCHMARKS.md (TF32 floor in the JSON); the table
  shows floor and measured / floor.

Mini-batch rows (batch min(4096, n // 8), one epoch, one fit) report fit time / n_steps_
("/step"). Spectral rows report the median fit time and ARI. A peer that is
not installed is a "skipped (not installed: ...)" row; a row that raises is
an "error: ..." row (the traceback goes to stderr) and the exit code is 1.
At ``--size gpu`` CPU rows run only on small workloads unless named in
``--impls``. Nothing here asserts a time.
"""
