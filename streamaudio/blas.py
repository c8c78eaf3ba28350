"""One BLAS thread per process, for models whose floats feed a decision."""

from __future__ import annotations


def pin_blas_threads() -> None:
    """Run numpy's BLAS on one thread in this process, for good. A matrix product's
    rounding depends on BLAS's thread count: faster-whisper's mel features (hence
    transcripts, word timings and round-trip drops) and the numpy MiniLM's vectors
    (hence retrieval ranks) would differ between a Dask worker (OMP_NUM_THREADS=1) and an
    in-process build. Process-wide and never restored, because a scoped limit would be
    undone by one thread while another computes."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
