"""The optimizer a recipe names, with its learning-rate schedule and gradient clipping."""

import keras

from keras_nn.schedules import build_schedule


def build_optimizer(config, steps_per_epoch):
    """The recipe's optimizer (`optimizer` section), its schedule (`schedule` section) and clipping.

    Args:
        config: the resolved recipe.
        steps_per_epoch: optimizer steps in one epoch (schedules count steps).

    Returns:
        A `keras.optimizers.Optimizer`.
    """
    section = config["optimizer"]
    learning_rate = build_schedule(
        config["schedule"], section["learning_rate"], steps_per_epoch, config["training"]["epochs"],
        model_config=config["model"],
    )
    common = {"learning_rate": learning_rate, "clipnorm": section["clipnorm"]}
    name = section["name"]
    adam = {
        "beta_1": section.get("beta_1", 0.9),
        "beta_2": section.get("beta_2", 0.999),
        "epsilon": section.get("epsilon", 1e-7),
    }
    if name == "adam":
        return keras.optimizers.Adam(**common, **adam, weight_decay=section["weight_decay"])
    if name == "adamw":
        return keras.optimizers.AdamW(**common, **adam, weight_decay=section["weight_decay"] or 0.004)
    if name == "sgd":
        return keras.optimizers.SGD(**common, momentum=section["momentum"], weight_decay=section["weight_decay"])
    return keras.optimizers.RMSprop(**common, weight_decay=section["weight_decay"])
