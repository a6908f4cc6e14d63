"""What the tasks on the generated date data (`tagging`, `seq2seq`) share: their data options and loader."""

from keras_nn.config.schema import Field
from keras_nn.errors import ConfigError
from keras_nn.training.tasks.base import pipeline_arguments


def _check_years(key, years):
    if len(years) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in years):
        raise ConfigError(f"recipe key {key!r} = {years!r} must be [first, last], e.g. [1950, 2049]")
    return years


#: The generation keys of a date task's `task_options` (split sizes are the task's own).
DATE_SPLIT_OPTIONS = {
    "years": Field((list,), [1950, 2049], check=_check_years, help="[first, last] year of the generated dates"),
    "formats": Field((list,), None, item_types=(str,), help="the date formats to write (default all)"),
}


def load_generated_dates(loader, config):
    """Runs a generated date-task loader of `keras_nn.data.dates` with the recipe's settings."""
    options = config["task_options"]
    return loader(
        train_size=options["train_size"], validation_size=options["validation_size"], test_size=options["test_size"],
        years=options["years"], formats=options["formats"], **pipeline_arguments(config),
    )
