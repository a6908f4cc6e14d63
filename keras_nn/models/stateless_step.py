"""A model's own stateful train or test step run as the stateless step JAX's `fit` and `evaluate` call.

TensorFlow and PyTorch call `train_step(data)` and let it assign the variables; JAX calls `train_step(state,
data)` with every variable's value in `state` and wants the new values back. `run_stateless` runs the same
stateful code in a `keras.StatelessScope` holding `state`: reads see the state, assignments (optimizer updates,
moving statistics, metrics, seed generators) are collected and returned in the state's layout.
"""

import keras


def run_stateless(model, step, state, data):
    """Runs `step(data)` on JAX's explicit state and returns `(step's logs, the new state)`.

    Args:
        model: the compiled model whose `train_step` or `test_step` JAX calls.
        step: the step written as on TensorFlow: reads and assigns `model`'s variables, returns the logs.
        state: `(trainable, non_trainable, optimizer, metrics)` values in a train step, `(trainable,
            non_trainable, metrics)` in a test step, in the order of `model.trainable_variables`,
            `model.non_trainable_variables`, `model.optimizer.variables` and `model.metrics_variables`.
        data: the batch.

    Returns:
        `(logs, new_state)`, `new_state` in `state`'s layout (a variable `step` did not assign keeps its value).
    """
    groups = [model.trainable_variables, model.non_trainable_variables]
    if len(state) == 4:
        groups.append(model.optimizer.variables)
    groups.append(model.metrics_variables)
    mapping = [
        (variable, value)
        for variables, values in zip(groups, state, strict=True)
        for variable, value in zip(variables, values, strict=True)
    ]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = step(data)
    new_state = []
    for variables, values in zip(groups, state, strict=True):
        current = [scope.get_current_value(variable) for variable in variables]
        new_state.append([value if new is None else new for new, value in zip(current, values, strict=True)])
    return logs, tuple(new_state)
