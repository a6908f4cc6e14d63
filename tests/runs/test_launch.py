"""`keras-nn train ... --workers N`: the local workers' TF_CONFIG, the checks on N, and (slow) a real launch in
which one worker is killed mid-run, the command stops with one line, and `--resume` completes the run."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keras_nn.cli import main
from keras_nn.runs.launch import worker_tf_configs
from keras_nn.training import read_backup_state


def test_worker_tf_configs_name_every_worker_on_distinct_free_ports():
    configs = [json.loads(config) for config in worker_tf_configs(3)]
    workers = configs[0]["cluster"]["worker"]
    assert len(set(workers)) == 3 and all(re.fullmatch(r"localhost:\d+", worker) for worker in workers)
    assert [config["cluster"]["worker"] for config in configs] == [workers] * 3
    assert [config["task"] for config in configs] == [{"type": "worker", "index": index} for index in range(3)]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--workers", "1"], "--workers 1: a multi-worker run needs at least 2 workers"),
        (["--workers", "2", "--strategy", "mirrored"], "--workers 2 trains with MultiWorkerMirroredStrategy, not --strategy mirrored"),
    ],
)
def test_bad_worker_counts_are_one_line_and_exit_2(tmp_path, capsys, arguments, message):
    output = tmp_path / "run"
    assert main(["train", "digits_cnn", "--output", str(output), *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and message in error
    assert not output.exists()


def _children(pid):
    """The process ids whose parent is `pid` (read from /proc: the launcher's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _worker_index(pid):
    environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    tf_config = next(item for item in environment if item.startswith(b"TF_CONFIG="))
    return json.loads(tf_config.split(b"=", 1)[1])["task"]["index"]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the workers through /proc")
def test_killed_worker_stops_the_run_and_resume_completes_it(tmp_path):
    output = tmp_path / "run"
    command = [
        sys.executable, "-P", "-m", "keras_nn.cli", "train", "digits_cnn", "--workers", "2", "--output", str(output),
        "--epochs", "3",
        *[f"--set={item}" for item in (
            "export.formats=[]", "data.batch_size=64", "data.shuffle_buffer=1", "data.validation_fraction=0.2",
            "data.test_fraction=0.75", "model.filters=[8, 16]", "model.dense_units=16",
        )],
    ]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    launcher = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in launcher.stdout:  # the chief's output is the launcher's
        lines.append(line)
        if line.startswith("Epoch 2/3"):  # printed after the chief's epoch-1 backup is on disk
            break
    else:
        pytest.fail("".join(lines[-40:]))
    # Worker 1 backs up its epoch 1 a moment later: killed before that, it would resume an epoch behind the chief
    # (each worker restores its own backup; nothing makes them agree yet).
    backup = output / ".worker-1" / "checkpoints" / "backup"
    deadline = time.monotonic() + 60
    while (state := read_backup_state(backup)) is None or len(state["history"]) < 1:
        assert time.monotonic() < deadline, "worker 1 wrote no epoch backup in 60 s"
        time.sleep(0.02)
    other = next(pid for pid in _children(launcher.pid) if _worker_index(pid) == 1)
    os.kill(other, signal.SIGKILL)
    killed = time.monotonic()
    rest, _ = launcher.communicate(timeout=120)
    stopped_after = time.monotonic() - killed
    assert launcher.returncode == 1, rest[-3000:]
    assert stopped_after < 30, stopped_after  # the launcher stops the chief at once (SIGTERM, SIGKILL after 10 s)
    assert "keras-nn: worker 1 of 2 failed (signal SIGKILL); stopped the others" in rest
    assert (output / ".worker-1" / "checkpoints" / "backup").is_dir()  # kept for --resume on that worker

    resumed = subprocess.run([*command, "--resume"], env=environment, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    with open(output / "history.csv") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2]
    assert (output / "model.keras").is_file() and not list(output.glob(".worker-*"))
    assert json.loads((output / "metrics.json").read_text())["strategy"] == "MultiWorkerMirroredStrategy"
