"""`keras_nn.catalog` (what `keras-nn list` prints without importing TensorFlow) against the live registries.

After registering a model or a data source, regenerate the catalog with
`KERAS_NN_WRITE_CATALOG=1 pytest tests/test_catalog.py -p no:cacheprovider -n 0`.
"""

import os
import pprint
from pathlib import Path

import keras_nn
from keras_nn import catalog
from keras_nn.data import list_datasets
from keras_nn.models import get_model_entry

HEADER = '''"""What `keras-nn list` shows about models and data sources, readable without importing TensorFlow.

Generated from the model registry and `keras_nn.data.list_datasets()`; tests/test_catalog.py keeps it equal to
them (`KERAS_NN_WRITE_CATALOG=1 pytest tests/test_catalog.py -n 0` rewrites it after a new registration).
"""

'''


def live_rows():
    models = tuple((name, get_model_entry(name).family, get_model_entry(name).description) for name in keras_nn.list_models())
    return models, tuple(tuple(row) for row in list_datasets())


def render(models, datasets):
    def block(name, rows):
        return f"{name} = {pprint.pformat(rows, width=200)}\n"

    return HEADER + block("MODELS", models) + "\n" + block("DATASETS", datasets)


def test_the_catalog_lists_every_registered_model_and_data_source():
    models, datasets = live_rows()
    if os.environ.get("KERAS_NN_WRITE_CATALOG") and (catalog.MODELS, catalog.DATASETS) != (models, datasets):
        Path(catalog.__file__).write_text(render(models, datasets))
        catalog.MODELS, catalog.DATASETS = models, datasets
    assert catalog.MODELS == models, "keras_nn/catalog.py is stale: KERAS_NN_WRITE_CATALOG=1 pytest tests/test_catalog.py -n 0"
    assert catalog.DATASETS == datasets, "keras_nn/catalog.py is stale: KERAS_NN_WRITE_CATALOG=1 pytest tests/test_catalog.py -n 0"
