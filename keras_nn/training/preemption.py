"""SIGTERM during training: what schedulers (Slurm, Kubernetes) and preemptible VMs send before they kill a job.

`handle_sigterm` turns the signal into a request that the run's backup callback (`RunBackup`) answers at the end
of the step in flight: it writes a backup of that step and raises `Preempted`, which the command line turns into
one line saying how to resume and exit code `PREEMPTED_EXIT_CODE`. Python runs a signal handler between
bytecodes, so a step inside a compiled function always finishes before the request is seen.
"""

import contextlib
import signal
import threading

# 128 + SIGTERM: what a shell reports for a job ended by SIGTERM, so a scheduler (Slurm requeue, a Kubernetes
# restart policy) and a script see "terminated", never success, and know the run can be resumed.
PREEMPTED_EXIT_CODE = 128 + signal.SIGTERM

_requested = threading.Event()


class Preempted(Exception):
    """Training stopped on SIGTERM after writing a backup; `--resume` continues from it.

    Args:
        run_root: the run directory.
        epoch: the epoch (0-based) the backup resumes in.
        step: the steps of that epoch the backup holds.
    """

    def __init__(self, run_root, epoch, step):
        self.run_root = run_root
        self.epoch = epoch
        self.step = step
        super().__init__(f"stopped by SIGTERM in epoch {epoch + 1} after step {step}; backup in {run_root}")


def stop_requested():
    """True once SIGTERM arrived inside `handle_sigterm`."""
    return _requested.is_set()


@contextlib.contextmanager
def handle_sigterm():
    """Within the block, SIGTERM asks training to back up and stop instead of ending the process at once.

    Outside the main thread (where Python cannot set handlers) it does nothing. The previous handler comes back
    on exit, so a SIGTERM outside training keeps its usual effect.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: _requested.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _requested.clear()
