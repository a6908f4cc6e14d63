"""`keras-nn train ... --workers N`: N local worker processes of one multi-worker run, for trying
`MultiWorkerMirroredStrategy` on one machine.

Each worker is `python -m keras_nn.cli train ...` with the same arguments and a `TF_CONFIG` naming every worker on
localhost (ports picked free by the system). Worker 0 is the chief: its output is this command's output, and it
writes the run directory. The others' output is kept in memory (the last lines of each) and shown only when that
worker fails. When a worker fails, the others are stopped, since every step waits on all of them, and the command
exits non-zero; `--resume` with the same arguments continues every worker from the last backup they all have
(`keras_nn.training.resumable_callbacks.agree_on_backup`).

This module imports no TensorFlow (nor does `keras_nn.runs`, whose names load on first use): the workers import it.
"""

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from keras_nn.errors import ConfigError

#: The lines of a non-chief worker's output kept to show when it fails.
TAIL_LINES = 40
#: Seconds the other workers get to stop after SIGTERM before they are killed.
STOP_GRACE_SECONDS = 10.0


def free_ports(count, host="localhost"):
    """`count` distinct ports nothing listens on now, found by binding port 0 (all held until all are picked)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def worker_tf_configs(count, host="localhost"):
    """The `TF_CONFIG` JSON of each of `count` workers on `host`; worker 0 is the chief."""
    cluster = {"worker": [f"{host}:{port}" for port in free_ports(count, host)]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}) for index in range(count)]


def check_worker_count(count, strategy):
    """Raises `ConfigError` unless `count` workers can be launched with `--strategy strategy` (None: the recipe's)."""
    if count < 2:
        raise ConfigError(f"--workers {count}: a multi-worker run needs at least 2 workers; drop --workers to train alone")
    if strategy not in (None, "auto", "multi_worker"):
        raise ConfigError(
            f"--workers {count} trains with MultiWorkerMirroredStrategy, not --strategy {strategy}; drop one of them"
        )


def _keep_tail(stream, tail):
    for line in iter(stream.readline, ""):
        tail.append(line)
    stream.close()


def _stop(processes):
    """SIGTERM to every worker still running, then SIGKILL to any that outlives the grace period."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch_workers(train_arguments, count, poll_seconds=0.2):
    """Runs `keras-nn train` as `count` local workers of one multi-worker run; returns the exit code.

    Args:
        train_arguments: the `keras-nn` arguments of one worker (`[global flags..., "train", RECIPE, ...]`, with
            `--output` and `--strategy multi_worker`), the same for every worker.
        count: how many workers (at least 2).
        poll_seconds: how often the workers are checked.

    Returns:
        0 when every worker succeeded, else the first failing worker's exit code (1 when that was a signal).
    """
    configs = worker_tf_configs(count)
    processes, tails = [], []
    try:
        for index, tf_config in enumerate(configs):
            environment = {**os.environ, "TF_CONFIG": tf_config}
            # -P: the current folder is not put on sys.path, so a keras_nn source tree there (a checkout with the
            # package installed from it) cannot stand in for the installed package.
            command = [sys.executable, "-P", "-m", "keras_nn.cli", *train_arguments]
            if index == 0:
                processes.append(subprocess.Popen(command, env=environment))
                tails.append(None)
                continue
            process = subprocess.Popen(
                command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            tail = collections.deque(maxlen=TAIL_LINES)
            threading.Thread(target=_keep_tail, args=(process.stdout, tail), daemon=True).start()
            processes.append(process)
            tails.append(tail)
        while True:
            codes = [process.poll() for process in processes]
            failed = [index for index, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                break
            if all(code == 0 for code in codes):
                return 0
            time.sleep(poll_seconds)
    except BaseException:
        _stop(processes)
        raise
    index = failed[0]
    code = codes[index]
    _stop(processes)
    if tails[index]:
        sys.stderr.write(f"--- last lines of worker {index} ---\n{''.join(tails[index])}---\n")
    how = f"exit code {code}" if code > 0 else f"signal {signal.Signals(-code).name}"
    print(
        f"keras-nn: worker {index} of {count} failed ({how}); stopped the others. The same command with --resume "
        "continues every worker from the last backup",
        file=sys.stderr,
    )
    return code if code > 0 else 1
