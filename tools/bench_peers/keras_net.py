"""The model as a Keras model (TensorFlow backend): gesta's weights are in
Keras' own names and layouts, so every layer takes them as they are."""

from .spec import SpecError


def build(spec, keras):
    L = keras.layers
    inp = keras.Input(shape=spec.input_shape, name="input")
    x = inp
    loaded = []
    for l in spec.layers:
        p = l.params
        if l.op == "conv2d":
            layer = L.Conv2D(int(l.get("filters")), l.get("kernel"),
                             strides=l.get("strides", 1),
                             padding=l.get("padding", "valid"),
                             activation=l.activation(),
                             use_bias="bias" in p)
            w = [p["kernel"]] + ([p["bias"]] if "bias" in p else [])
        elif l.op == "max_pool2d":
            layer = L.MaxPooling2D(l.get("pool_size", 2),
                                   strides=l.get("strides"),
                                   padding=l.get("padding", "valid"))
            w = []
        elif l.op == "global_avg_pool2d":
            layer, w = L.GlobalAveragePooling2D(), []
        elif l.op == "batch_norm":
            layer = L.BatchNormalization(
                epsilon=float(l.get("epsilon", 1e-3)),
                momentum=float(l.get("momentum", 0.99)))
            w = [p["gamma"], p["beta"], p["moving_mean"],
                 p["moving_variance"]]
        elif l.op == "dense":
            layer = L.Dense(int(l.get("units")), activation=l.activation(),
                            use_bias="bias" in p)
            w = [p["kernel"]] + ([p["bias"]] if "bias" in p else [])
        elif l.op == "dropout":
            layer, w = L.Dropout(float(l.get("rate"))), []
        elif l.op == "flatten":
            layer, w = L.Flatten(), []
        elif l.op == "lstm":
            layer = L.LSTM(int(l.get("units")),
                           return_sequences=bool(l.get("return_sequences")),
                           use_bias="bias" in p)
            w = [p["kernel"], p["recurrent_kernel"]] + (
                [p["bias"]] if "bias" in p else [])
        elif l.op in ("relu", "sigmoid", "tanh", "softmax", "linear"):
            layer, w = L.Activation(l.op), []
        else:
            raise SpecError("layer %s: op %s is not built for Keras" %
                            (l.name, l.op))
        if l.td:
            layer = L.TimeDistributed(layer)
        x = layer(x)
        if w:
            loaded.append((layer, w))
    model = keras.Model(inp, x, name=spec.name)
    for layer, w in loaded:
        layer.set_weights(w)
    return model
