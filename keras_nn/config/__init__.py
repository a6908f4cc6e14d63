"""The recipe schema, the schema machinery and every shared vocabulary, defined once.

Nothing here imports TensorFlow: the `keras-nn` command checks a recipe before it loads anything heavy.
"""

from keras_nn.config import vocabulary
from keras_nn.config.export_plan import (
    EXPORT_PLANS,
    DetectorExport,
    ModelExport,
    Seq2SeqDecoderExport,
    TranslatorExport,
)
from keras_nn.config.recipe import (
    SCHEMA,
    apply_overrides,
    dump_recipe,
    parse_override,
    read_recipe_file,
    recipe_names,
    recipe_summaries,
)
from keras_nn.config.recipe import validate as validate_recipe
from keras_nn.config.schema import ANY, OPEN, Field, defaults, validate_section

__all__ = [
    "ANY",
    "EXPORT_PLANS",
    "Field",
    "DetectorExport",
    "ModelExport",
    "OPEN",
    "SCHEMA",
    "Seq2SeqDecoderExport",
    "TranslatorExport",
    "apply_overrides",
    "defaults",
    "dump_recipe",
    "parse_override",
    "read_recipe_file",
    "recipe_names",
    "recipe_summaries",
    "validate_recipe",
    "validate_section",
    "vocabulary",
]
