"""Transfer learning helpers: freezing a backbone around its head."""

import keras_nn
from keras_nn.models.transfer import set_backbone_trainable


def test_set_backbone_trainable_keeps_the_head_and_can_spare_batch_norm():
    model = keras_nn.create_model("simple_cnn", num_classes=3, input_shape=(8, 8, 1), filters=(4,), dense_units=8)
    set_backbone_trainable(model, False)
    assert [w.name for w in model.trainable_weights] == ["kernel", "bias"]
    assert model.trainable_weights[0] is model.get_layer("predictions").kernel
    set_backbone_trainable(model, True, train_batch_norm=False)
    assert not model.get_layer("stage1_conv1_bn").trainable and model.get_layer("stage1_conv1").trainable
    set_backbone_trainable(model, True, train_batch_norm=True)
    assert model.get_layer("stage1_conv1_bn").trainable
