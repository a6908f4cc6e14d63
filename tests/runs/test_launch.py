"""`keras-nn train ... --workers N`: the local workers' TF_CONFIG, the checks on N, and (slow) a real launch in
which one worker is killed mid-run, the command stops with one line, and `--resume` completes the run."""

import csv
import json
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np
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


LAUNCH_WITHOUT_TENSORFLOW = """
import sys
output, sys.argv = sys.argv[1], ["keras-nn"]  # as the installed command, which loads keras_nn's names on first use
from keras_nn import cli
from keras_nn.runs import launch
started = []
launch.launch_workers = lambda arguments, count: started.append((arguments, count)) or 0
code = cli.main(["train", "digits_cnn", "--workers", "2", "--output", output, "--epochs", "3"])
print(code, started, sorted(name for name in ("tensorflow", "keras") if name in sys.modules))
"""


def test_the_launcher_starts_the_workers_without_importing_tensorflow(tmp_path):
    # Each worker imports TensorFlow; the launcher importing it too delayed the workers by seconds.
    script = tmp_path / "launch.py"
    script.write_text(LAUNCH_WITHOUT_TENSORFLOW)
    output = tmp_path / "run"
    done = subprocess.run([sys.executable, "-P", str(script), str(output)], capture_output=True, text=True, timeout=60)
    arguments = ["train", "digits_cnn", "--strategy", "multi_worker", "--output", str(output), "--epochs", "3"]
    assert done.stdout.strip() == f"0 {[(arguments, 2)]} []", done.stderr[-2000:]
    assert not output.exists()  # the workers write the run


# Loaded by every process of the launched run through PYTHONPATH (a test hook, no production code): in worker 1 it
# watches, with an audit hook, the rename that would make its backup at KILL_EPOCH the latest, waits there until the
# chief has made its own backup of that epoch the latest, and SIGKILLs its own process: the race in which a killed
# worker's latest backup is one behind the others'. With KEEP_WORKER_1, the weights file of worker 1's latest backup
# is copied there before its folder is removed at the end of a run.
HOOK = """
import json, os, shutil, signal, sys, time

def _epoch(path):
    try:
        with open(path) as handle:
            return json.load(handle)["epoch"]
    except (OSError, ValueError):
        return -1

def _hook(event, args):
    if event == "os.rename" and str(args[1]).endswith(os.path.join(".worker-1", "checkpoints", "backup", "state.json")):
        kill_epoch = int(os.environ.get("KILL_EPOCH", "-1"))
        if _epoch(args[0]) == kill_epoch:
            while _epoch(os.environ["CHIEF_STATE"]) != kill_epoch:
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGKILL)
    if event == "shutil.rmtree" and str(args[0]).endswith(".worker-1") and os.environ.get("KEEP_WORKER_1"):
        backup = os.path.join(args[0], "checkpoints", "backup")
        with open(os.path.join(backup, "state.json")) as handle:
            shutil.copy(os.path.join(backup, json.load(handle)["weights"]), os.environ["KEEP_WORKER_1"])

if json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index") == 1:
    sys.addaudithook(_hook)
"""


def _h5_arrays(path):
    import h5py

    arrays = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: arrays.update({name: item[()]}) if isinstance(item, h5py.Dataset) else None)
    return arrays


@pytest.mark.slow
def test_killed_worker_stops_the_run_and_resume_completes_it(tmp_path):
    output = tmp_path / "run"
    command = [
        sys.executable, "-P", "-m", "keras_nn.cli", "train", "digits_cnn", "--workers", "2", "--output", str(output),
        "--epochs", "3",
        *[f"--set={item}" for item in (
            "export.formats=[]", "data.batch_size=64", "data.shuffle_buffer=1", "data.validation_fraction=0.2",
            "data.test_fraction=0.75", "model.filters=[4, 8]", "model.dense_units=8", "model.dropout=0.0",
        )],
    ]
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(HOOK)
    chief_backup = output / "checkpoints" / "backup"
    environment = {
        **os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "hook"), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "CHIEF_STATE": str(chief_backup / "state.json"),
    }
    # Worker 1 dies as it backs up epoch 1's end (state epoch 2), right after the chief has backed it up.
    launcher = subprocess.Popen(
        command, env={**environment, "KILL_EPOCH": "2"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    threading.Thread(target=lambda: lines.extend(launcher.stdout), daemon=True).start()
    deadline = time.monotonic() + 240
    while (state := read_backup_state(chief_backup)) is None or state["epoch"] < 2:
        assert launcher.poll() is None and time.monotonic() < deadline, "".join(lines[-40:])
        time.sleep(0.05)
    killed = time.monotonic()
    launcher.wait(timeout=120)
    stopped_after = time.monotonic() - killed
    output_text = "".join(lines)
    assert launcher.returncode == 1, output_text[-3000:]
    assert stopped_after < 30, stopped_after  # the launcher stops the chief at once (SIGTERM, SIGKILL after 10 s)
    assert "keras-nn: worker 1 of 2 failed (signal SIGKILL); stopped the others" in output_text
    # The race, for real: the chief's latest backup is epoch 2's start, the killed worker's epoch 1's.
    state = read_backup_state(chief_backup)
    assert (state["epoch"], state["previous"]["epoch"]) == (2, 1)
    assert read_backup_state(output / ".worker-1" / "checkpoints" / "backup")["epoch"] == 1

    kept = tmp_path / "worker1.weights.h5"
    resumed = subprocess.run(
        [*command, "--resume"], env={**environment, "KEEP_WORKER_1": str(kept)}, capture_output=True, text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "rolled the backup in" in resumed.stderr and "back from epoch 2 step 0 to epoch 1 step 0" in resumed.stderr
    assert "resuming from the backup in" in resumed.stderr and ": epoch 2 of 3, step 0" in resumed.stderr
    with open(output / "history.csv") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2]
    assert (output / "model.keras").is_file() and not list(output.glob(".worker-*"))
    assert json.loads((output / "metrics.json").read_text())["strategy"] == "MultiWorkerMirroredStrategy"
    # Both workers end with the same model and optimizer state (each restored the same epoch).
    chief = _h5_arrays(chief_backup / read_backup_state(chief_backup)["weights"])
    other = _h5_arrays(kept)
    assert chief.keys() == other.keys() and len(chief) > 4
    for name, array in chief.items():
        np.testing.assert_array_equal(array, other[name], err_msg=name)
