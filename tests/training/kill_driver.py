"""Runs `keras-nn train` in this process and kills it at a chosen step: the subprocess the resume-fault tests kill.

    python kill_driver.py SIGNAL STEP DELAY_MS -- keras-nn train arguments...

SIGNAL is KILL, TERM or NONE; the signal is sent to this process `DELAY_MS` milliseconds after the STEP-th optimizer
step this process takes (batches a resume skips do not count), so it can land in a step, in a backup being written,
in the history row or in validation. Exits with `keras-nn`'s exit code (or dies of SIGKILL).
"""

import os
import signal
import sys
import threading

import keras


class KillAt(keras.callbacks.Callback):
    def __init__(self, signum, step, delay):
        super().__init__()
        self.signum, self.step, self.delay, self.start, self.fired = signum, step, delay, 0, False

    def on_train_begin(self, logs=None):
        self.start = int(self.model.optimizer.iterations.numpy())  # after the backup's restore (an earlier callback)

    def on_train_batch_end(self, batch, logs=None):
        if not self.fired and int(self.model.optimizer.iterations.numpy()) - self.start >= self.step:
            self.fired = True
            threading.Timer(self.delay, os.kill, (os.getpid(), self.signum)).start()


def main():
    name, step, delay_ms = sys.argv[1:4]
    arguments = sys.argv[sys.argv.index("--") + 1 :]
    from keras_nn import cli
    from keras_nn.training import trainer

    if name != "NONE":
        killer = KillAt(getattr(signal, f"SIG{name}"), int(step), int(delay_ms) / 1000)
        standard = trainer.standard_callbacks
        trainer.standard_callbacks = lambda *args, **kwargs: [*standard(*args, **kwargs), killer]
    return cli.main(arguments)


if __name__ == "__main__":
    sys.exit(main())
