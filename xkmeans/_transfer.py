"""Moving host batches to a CUDA device while the device computes.

A streamed fit (``MiniBatchKMeans(device=...)`` on host data) moves one
batch per step. ``cupy.asarray`` of a NumPy array copies from pageable
memory: the host waits for the copy and the copy waits behind the kernels
queued before it. ``PinnedPingPong`` copies instead from page-locked host
buffers on a side stream, so that the copy of the next batch runs while the
kernels of this step run, and the compute stream waits for a copy only where
it uses that batch.

A module of its own, not ``_backend`` (backend facts, stateless) nor
``_primitives`` (array operations resolved per namespace): a mover holds
buffers, a stream and events across the steps of one fit. CuPy is imported
on call only. Off CuPy (NumPy, PyTorch, array-api-strict) ``pinned_mover``
gives None and the data source moves batches with ``xp.asarray``.
"""

from __future__ import annotations

import math

import numpy as np

from ._backend import backend_name

__all__ = ["PinnedPingPong", "pinned_mover"]


def pinned_mover(xp, device):
    """A ``PinnedPingPong`` for a CuPy ``device``; None for every other target."""
    if backend_name(xp) != "cupy":
        return None
    import cupy

    return PinnedPingPong(cupy.cuda, xp, device)


class PinnedPingPong:
    """Host batches of one shape to a CUDA device, through two pinned buffers.

    Protocol, per batch ``i``: ``staging`` gives the pinned host array to fill
    (called for batch ``i + 1`` before ``move`` of batch ``i``, so that a
    worker fills it meanwhile), then ``move`` starts its copy and returns the
    device array. Buffer ``i % 2`` (host and device) serves batch ``i``:

    - the host buffer is refilled only after the event recorded behind its
      last copy has completed (``staging`` synchronizes it);
    - the copy into the device buffer waits (on the side stream) for an event
      recorded on the compute stream when batch ``i - 1`` was handed out, that
      is after the kernels of step ``i - 2``, the last to read that buffer;
    - the compute stream waits for the copy's event before its next kernels.

    A device array handed out is valid until the batch after next is handed
    out: callers use a batch in its own step only. The shape and dtype are
    fixed by the first ``staging``; another shape gets ``None`` from
    ``staging`` and ``move`` copies such arrays synchronously (``xp.asarray``).

    Parameters
    ----------
    cuda : module
        ``cupy.cuda`` (tests pass a fake with the same names).
    xp : namespace
        The device arrays' namespace (``empty`` and ``asarray`` with ``device=``).
    device : cupy.cuda.Device
        Where the batches go; also the context of streams and events.
    """

    def __init__(self, cuda, xp, device):
        self._cuda, self._xp, self._device = cuda, xp, device
        self._host = self._dev = self._side = None
        self._copied = [None, None]  # event after the last copy out of each host buffer
        self._released = None  # compute-stream event of the last hand-out
        self._fill = 0  # host buffer ``staging`` gives next

    def _allocate(self, shape, dtype):
        cuda, n = self._cuda, math.prod(shape)
        dtype = np.dtype(dtype)
        with self._device:
            self._side = cuda.Stream(non_blocking=True)
            # Each view keeps its PinnedMemory alive (frombuffer holds the buffer).
            self._host = [np.frombuffer(cuda.alloc_pinned_memory(max(1, n * dtype.itemsize)),
                                        dtype, n).reshape(shape) for _ in range(2)]
            self._dev = [self._xp.empty(shape, dtype=dtype, device=self._device)
                         for _ in range(2)]

    def staging(self, shape, dtype):
        """The pinned host array to fill with the next batch, or None (other shape)."""
        if self._host is None:
            self._allocate(tuple(shape), dtype)
        s = self._fill
        if self._host[s].shape != tuple(shape) or self._host[s].dtype != np.dtype(dtype):
            return None
        self._fill ^= 1
        if self._copied[s] is not None:  # its previous copy may still be reading it
            self._copied[s].synchronize()
            self._copied[s] = None
        return self._host[s]

    def move(self, host):
        """The batch ``host`` on the device; its copy is in flight, ordered before
        the compute stream's next kernels."""
        s = next((j for j in (0, 1) if self._host is not None and host is self._host[j]), None)
        if s is None:
            return self._xp.asarray(host, device=self._device)
        cuda = self._cuda
        with self._device:
            compute = cuda.get_current_stream()
            gate, self._released = self._released, self._record(compute)
            if gate is not None:  # the kernels of the step before last are done with it
                self._side.wait_event(gate)
            self._dev[s].set(host, stream=self._side)
            self._copied[s] = self._record(self._side)
            compute.wait_event(self._copied[s])
        return self._dev[s]

    def _record(self, stream):
        event = self._cuda.Event(disable_timing=True)
        event.record(stream)
        return event

    def close(self):
        """Wait for the copies in flight, so that the pinned buffers can be freed."""
        if self._side is not None:
            with self._device:
                self._side.synchronize()
