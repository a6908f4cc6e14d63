"""Runs tests/backends/backend_cases.py on the backend KERAS_BACKEND names, in this one process.

    KERAS_BACKEND=jax python tests/backends/run_backend_checks.py [case ...]

Off TensorFlow, importing `tensorflow` (or any `tensorflow_*` package) is refused, as on a GPU machine that has
JAX or PyTorch and no TensorFlow: a case that needs it fails with the import chain in its error. Each case
starts from the state tests/conftest.py gives a test (seed 0, float32 policy, a cleared session). The last line
printed is a JSON object: {"backend", "passed": [names], "failed": {name: error}, "seconds": {name: s},
"tensorflow_imports": [refused imports, each with the frame that asked]}.
"""

import importlib.abc
import importlib.machinery
import json
import os
import sys
import time
import traceback

TENSORFLOW_IMPORTS = []


class RefuseTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes `tensorflow` and `tensorflow_*` fail to import, recording the frame that asked for each.

    `find_spec` answers with a spec that has no origin (what `importlib.util.find_spec` probes, as PyTorch's
    dynamo does for its skip list, get without an error); importing it raises ModuleNotFoundError."""

    def find_spec(self, name, path, target=None):
        top = name.split(".")[0]
        if top != "tensorflow" and not top.startswith("tensorflow_"):
            return None
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec):
        # The deepest frame that is not the import machinery: the module that asked.
        asking = [f"{frame.filename}:{frame.lineno}" for frame in traceback.extract_stack()[:-1]
                  if "importlib" not in frame.filename and "module_utils" not in frame.filename]
        TENSORFLOW_IMPORTS.append(f"{spec.name} from {asking[-1]}")
        raise ModuleNotFoundError(f"No module named {spec.name!r} (refused: the {os.environ['KERAS_BACKEND']} checks "
                                  "run as on a machine without TensorFlow)", name=spec.name)

    def exec_module(self, module):
        raise AssertionError("create_module refuses every module")


def main(names):
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        sys.meta_path.insert(0, RefuseTensorFlow())
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))  # tests/, for testing_utils
    sys.path.insert(0, here)
    started = time.perf_counter()
    import backend_cases
    import keras

    assert keras.backend.backend() == backend, (keras.backend.backend(), backend)
    result = {"backend": backend, "passed": [], "failed": {}, "seconds": {"import": time.perf_counter() - started},
              "cpu_seconds": {}}
    for name in names or list(backend_cases.CASES):
        keras.utils.set_random_seed(0)
        keras.config.set_dtype_policy("float32")
        started, cpu = time.perf_counter(), time.process_time()
        try:
            backend_cases.CASES[name]()
        except Exception as error:  # noqa: BLE001 - each case's failure is reported, the others still run
            lines = traceback.format_exception(error)
            result["failed"][name] = "".join(lines[-6:])[-2000:]
            print(f"FAIL {name}\n{''.join(lines)}", file=sys.stderr, flush=True)
        else:
            result["passed"].append(name)
        finally:
            keras.config.set_dtype_policy("float32")
            keras.backend.clear_session(free_memory=False)
        result["seconds"][name] = round(time.perf_counter() - started, 2)
        result["cpu_seconds"][name] = round(time.process_time() - cpu, 2)
        print(f"{'ok' if name in result['passed'] else 'FAILED'} {name} {result['seconds'][name]:.1f} s "
              f"(cpu {result['cpu_seconds'][name]:.1f} s)", flush=True)
    result["tensorflow_imports"] = TENSORFLOW_IMPORTS
    print(json.dumps(result))
    return 0 if not result["failed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
