"""Host data streamed to a device by MiniBatchKMeans: the prefetching data source.

``_HostStream.batches`` gathers the next batch on a worker thread while the
current step computes (on CuPy, through pinned buffers and a side stream,
``_transfer.PinnedPingPong``). It must give the same fit as gathering each
batch in turn, raise the worker's errors in ``fit`` and leave no thread
behind. The CUDA protocol is checked here on a host fake of ``cupy.cuda``
whose queued work runs as late (or as early) as its events allow.
"""

from __future__ import annotations

import collections
import contextlib
import threading

import array_api_compat.numpy as np_xp
import numpy as np
import pytest
from conftest import blobs

from xkmeans import MiniBatchKMeans, _minibatch
from xkmeans._transfer import PinnedPingPong, pinned_mover


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name.startswith("xkmeans-prefetch")]


def _fit(device, X, prefetch, w=None, **params):
    km = MiniBatchKMeans(**params, device=device)
    km._prefetch = prefetch
    return km.fit(X, sample_weight=w)


def _assert_same_fit(a, b, backend):
    assert (a.n_steps_, a.n_iter_) == (b.n_steps_, b.n_iter_)
    for name in ("cluster_centers_", "_counts"):
        np.testing.assert_array_equal(backend.to_numpy(getattr(a, name)),
                                      backend.to_numpy(getattr(b, name)), err_msg=name)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_


_CASES = {
    # Stops early (inside a window and an index block): the worker is interrupted.
    "early_stop": {"n_clusters": 5, "batch_size": 40, "max_no_improvement": 3,
                   "random_state": 0, "tol": 1e-4},
    # Runs to max_iter with reassignments and weights.
    "reassign_weighted": {"n_clusters": 12, "batch_size": 32, "max_iter": 2,
                          "reassignment_ratio": 0.3, "max_no_improvement": None,
                          "random_state": 1},
    "cosine": {"n_clusters": 4, "batch_size": 40, "max_iter": 2, "metric": "cosine",
               "max_no_improvement": None, "random_state": 2},
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_prefetch_gives_the_same_fit(foreign_backend, case, monkeypatch, tmp_path):
    b = foreign_backend
    # Index blocks of 4 steps: the prefetch crosses block boundaries.
    monkeypatch.setattr(_minibatch, "_INDEX_BLOCK", 4 * _CASES[case]["batch_size"])
    X = blobs(n=600, d=3, centres=4, seed=3, spread=1.0, scale=6.0)[0].astype(b.dtype)
    w = None
    if case == "reassign_weighted":
        w = np.random.default_rng(0).uniform(0.2, 2.0, size=600).astype(b.dtype)
    mm = np.memmap(tmp_path / "X.bin", dtype=X.dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    ref = _fit(b.device, X, False, w, **_CASES[case])
    threads = threading.active_count()  # after the fit: kernels may keep a pool of their own
    for source in (X, np.memmap(tmp_path / "X.bin", dtype=X.dtype, mode="r", shape=X.shape)):
        km = _fit(b.device, source, True, w, **_CASES[case])
        _assert_same_fit(km, ref, b)
        b.check_array(km.cluster_centers_, dtype=b.dtype)
        assert not _prefetch_threads()
        assert threading.active_count() == threads
    if case == "early_stop":
        assert ref.n_steps_ < (ref.max_iter * 600) // 40
        assert ref.n_steps_ % 4 and ref.n_steps_ % 16  # inside a block and a window


class _Boom(RuntimeError):
    pass


def test_error_while_gathering_reaches_fit_and_stops_the_worker(monkeypatch):
    xs = pytest.importorskip("array_api_strict")
    X = blobs(n=400, d=2, centres=3, seed=0)[0]
    real = _minibatch._HostStream._gather
    where = []

    def failing(self, idx, into=(None, None)):
        where.append(threading.current_thread().name)
        if len(where) == 6:  # init and validation rows first, then the batches
            msg = "disk read failed"
            raise _Boom(msg)
        return real(self, idx, into)

    params = {"n_clusters": 3, "batch_size": 20, "max_iter": 5, "max_no_improvement": None,
              "random_state": 0}
    _fit(xs.Device("device1"), X, False, **params)
    threads = threading.active_count()
    monkeypatch.setattr(_minibatch._HostStream, "_gather", failing)
    with pytest.raises(_Boom, match="disk read failed"):
        _fit(xs.Device("device1"), X, True, **params)
    assert where[-1].startswith("xkmeans-prefetch")  # raised on the worker...
    assert not _prefetch_threads()  # ...and the worker is gone
    assert threading.active_count() == threads


def test_error_in_a_step_stops_the_worker(monkeypatch):
    xs = pytest.importorskip("array_api_strict")
    X = blobs(n=400, d=2, centres=3, seed=0)[0]
    real = _minibatch.minibatch_step
    steps = []

    def failing(*args, **kwargs):
        steps.append(1)
        if len(steps) == 3:
            msg = "step failed"
            raise _Boom(msg)
        return real(*args, **kwargs)

    params = {"n_clusters": 3, "batch_size": 20, "random_state": 0}
    _fit(xs.Device("device1"), X, False, **params)
    threads = threading.active_count()
    monkeypatch.setattr(_minibatch, "minibatch_step", failing)
    with pytest.raises(_Boom, match="step failed"):
        _fit(xs.Device("device1"), X, True, **params)
    assert not _prefetch_threads()
    assert threading.active_count() == threads


def test_prefetch_by_default_only_off_the_cpu(foreign_backend):
    # CPU targets share their cores with the worker: measured no gain there.
    X = blobs(n=100, d=2, centres=2, seed=0)[0].astype(foreign_backend.dtype)
    km = MiniBatchKMeans(2, device=foreign_backend.device)
    cpu = foreign_backend.lib != "cupy" and "cuda" not in foreign_backend.name
    assert km._data(X, None, reset=True).prefetch is not cpu
    km._prefetch = True
    assert km._data(X, None, reset=True).prefetch


def test_pinned_mover_only_for_cupy():
    xs = pytest.importorskip("array_api_strict")
    assert pinned_mover(xs, xs.Device("device1")) is None
    assert pinned_mover(np_xp, "cpu") is None


# ------------------------------------------------- the CUDA protocol on a host fake


class _Event:
    def __init__(self, disable_timing=False):
        self.done, self.stream = True, None

    def record(self, stream):
        self.done, self.stream = False, stream
        stream.ops.append(("mark", self))

    def synchronize(self):
        if not self.done:
            self.stream.run(until=self)


class _Stream:
    """A FIFO of queued work that runs only when something waits for it."""

    def __init__(self, non_blocking=False):
        self.ops = collections.deque()

    def wait_event(self, event):
        self.ops.append(("wait", event))

    def run(self, until=None):
        while self.ops:
            kind, x = self.ops.popleft()
            if kind == "wait":
                x.synchronize()
            elif kind == "mark":
                x.done = True
                if x is until:
                    return
            else:
                x()

    def synchronize(self):
        self.run()


class _DeviceArray(np.ndarray):
    def set(self, host, stream):  # the copy reads ``host`` when it runs, not now
        stream.ops.append(("run", lambda: np.copyto(self, host)))


class _FakeCuda:
    """The names of ``cupy.cuda`` that PinnedPingPong uses, on the host."""

    Event = _Event
    Stream = _Stream

    def __init__(self):
        self.compute = _Stream()

    def alloc_pinned_memory(self, nbytes):
        return bytearray(nbytes)

    def get_current_stream(self):
        return self.compute


class _FakeXp:
    @staticmethod
    def empty(shape, dtype, device):
        return np.full(shape, np.nan, dtype=dtype).view(_DeviceArray)

    @staticmethod
    def asarray(a, device):
        return np.array(a).view(_DeviceArray)


class _NoHostSync(PinnedPingPong):
    def staging(self, shape, dtype):
        self._copied = [None, None]  # forget the copies in flight
        return super().staging(shape, dtype)


class _NoGate(PinnedPingPong):
    def move(self, host):
        self._released = None  # copy without waiting for the step before last
        return super().move(host)


class _NoComputeWait(PinnedPingPong):
    def move(self, host):
        compute = self._cuda.compute
        wait, compute.wait_event = compute.wait_event, lambda event: None
        try:
            return super().move(host)
        finally:
            compute.wait_event = wait


def _stream_through_fake(monkeypatch, mover_cls, eager):
    """Batches of a host stream moved by ``mover_cls`` on the fake; each step
    (queued on the compute stream) records the batch it sees. ``eager``: the
    compute stream runs as soon as a batch is handed out; else work runs only
    when an event forces it (copies as late as possible)."""
    cuda = _FakeCuda()
    monkeypatch.setattr(_minibatch, "pinned_mover",
                        lambda xp, device: mover_cls(cuda, _FakeXp, contextlib.nullcontext()))
    rng = np.random.default_rng(0)
    X, w = rng.normal(size=(50, 3)), rng.uniform(size=50)
    data = _minibatch._HostStream(X, w, np_xp, "cpu", np.float64)
    indices = [np.sort(rng.integers(0, 50, size=6)) for _ in range(9)]
    seen = []
    for Xb, wb in data.batches(iter(indices)):
        cuda.compute.ops.append(("run", lambda Xb=Xb, wb=wb: seen.append(
            (np.array(Xb), np.array(wb)))))
        if eager:
            cuda.compute.run()
    cuda.compute.run()
    assert not _prefetch_threads()
    assert len(seen) == len(indices)
    return all(np.array_equal(x, X[i]) and np.array_equal(v, w[i])
               for (x, v), i in zip(seen, indices))


@pytest.mark.parametrize("eager", [False, True])
def test_pinned_ping_pong_protocol_on_a_fake_gpu(monkeypatch, eager):
    assert _stream_through_fake(monkeypatch, PinnedPingPong, eager)


@pytest.mark.parametrize("broken", [_NoHostSync, _NoGate, _NoComputeWait])
def test_the_fake_gpu_catches_a_missing_event(monkeypatch, broken):
    # Each rule of PinnedPingPong matters: without it some schedule sees wrong rows.
    assert not all(_stream_through_fake(monkeypatch, broken, eager) for eager in (False, True))


def test_pinned_mover_falls_back_for_another_shape():
    cuda = _FakeCuda()
    mover = PinnedPingPong(cuda, _FakeXp, contextlib.nullcontext())
    assert mover.staging((4, 3), np.float32) is not None
    assert mover.staging((2, 3), np.float32) is None
    odd = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(mover.move(odd), odd)
    mover.close()
