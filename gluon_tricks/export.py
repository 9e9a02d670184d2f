"""Deployable files from a trained network: MXNet symbol + params, ONNX, and what preprocessing expects."""
import json

import mxnet as mx
import numpy as np

from .inference import hybridize_fused, input_shape, normalisation
from .errors import BadInput


def export(predictor, prefix, onnx=True, opset=None):
    """Write ``prefix-symbol.json``, ``prefix-0000.params``, ``prefix.json`` (input shape,
    normalisation, class names, dtype; what :meth:`Predictor.from_exported` reads back) and, with
    ``onnx``, ``prefix.onnx`` (batch size left dynamic; float32 networks only). Returns the paths."""
    if onnx and predictor.dtype != "float32":
        raise BadInput("ONNX export takes float32 networks; MXNet's %s graph is written as symbol + params only"
                       % predictor.dtype)
    shape = input_shape(predictor.recipe)
    net, x = predictor.net, mx.nd.zeros((1,) + shape, ctx=predictor.ctx)
    if predictor.dtype == "float32":  # trace the portable graph, not oneDNN's fused one
        net.hybridize(static_alloc=True, static_shape=True)
    net(x)  # the hybridized graph exists after a call
    net.export(prefix, epoch=0)
    if predictor.dtype == "float32":
        hybridize_fused(net, predictor.ctx)
    paths = {"symbol": prefix + "-symbol.json", "params": prefix + "-0000.params", "meta": prefix + ".json"}
    recipe = predictor.recipe
    mean, std, resize = normalisation(recipe)
    with open(paths["meta"], "w") as f:
        json.dump({"model": recipe.model, "dtype": predictor.dtype, "input_shape": [None, *shape], "input_name": "data",
                   "pixel_range": "0-255, RGB", "resize_shorter_side": resize, "centre_crop": shape[1],
                   "mean": list(mean), "std": list(std), "classes": predictor.classes,
                   "inputs": predictor.inputs()}, f, indent=1)
    if onnx:
        paths["onnx"] = to_onnx(paths["symbol"], paths["params"], shape, prefix + ".onnx", opset)
    return paths


def restore_onnx_mapping(onnx):
    """MXNet 1.9.1's ONNX exporter reads ``onnx.mapping`` (its numpy <-> tensor type tables), which
    onnx removed in 1.16; rebuilt from ``onnx.helper`` where it is missing. Returns whether it was."""
    if hasattr(onnx, "mapping"):
        return False
    import sys
    import types
    to_numpy = {}
    for tensor_type in sorted(onnx.TensorProto.DataType.values()):
        try:
            to_numpy[tensor_type] = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor_type))
        except (KeyError, TypeError, ValueError):  # UNDEFINED and types numpy cannot hold
            continue
    mapping = types.ModuleType("onnx.mapping", "numpy <-> ONNX tensor types, as onnx < 1.16 gave them")
    mapping.TENSOR_TYPE_TO_NP_TYPE = to_numpy
    mapping.NP_TYPE_TO_TENSOR_TYPE = {}
    for tensor_type, dtype in to_numpy.items():  # the first (standard) type of each numpy dtype
        mapping.NP_TYPE_TO_TENSOR_TYPE.setdefault(dtype, tensor_type)
    onnx.mapping = sys.modules["onnx.mapping"] = mapping
    return True


def to_onnx(symbol, params, shape, path, opset=None):
    """ONNX through mxnet.onnx, batch axis dynamic; weights are stored as initializers only (not
    also as graph inputs), so runtimes can fold constants."""
    try:
        import onnx
        from mxnet import onnx as mx_onnx
    except ImportError as err:  # a ValueError: the scripts report it in one line
        raise BadInput("ONNX export needs the onnx package: pip install onnx (the onnx extra) (%s), or pass "
                       "--no-onnx" % err) from None
    restore_onnx_mapping(onnx)
    kwargs = {"opset_version": opset} if opset else {}
    mx_onnx.export_model(symbol, params, [(1,) + tuple(shape)], [np.float32], path, dynamic=True,
                         dynamic_input_shapes=[(None,) + tuple(shape)], **kwargs)
    model = onnx.load(path)
    weights = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def onnx_difference(predictor, path, batch=2, seed=0):
    """Largest absolute difference between onnxruntime's and MXNet's outputs on random inputs."""
    import onnxruntime
    x = np.random.default_rng(seed).standard_normal((batch,) + input_shape(predictor.recipe)).astype(np.float32)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    theirs = session.run(None, {session.get_inputs()[0].name: x})[0]
    ours = predictor.net(mx.nd.array(x, ctx=predictor.ctx)).asnumpy()
    return float(np.abs(theirs - ours).max())


def int8_agreement(fp32, int8, prefix, batch=64):
    """How an int8 export holds up, on the images it was calibrated on (random ones without):
    the largest output difference between the files at ``prefix`` reloaded and the network in
    memory, and the fraction of images whose top class int8 and float32 agree on."""
    from .inference import Predictor
    reloaded = Predictor.from_exported(prefix, int8.ctx)
    x = int8.calibration
    if x is None:
        x = mx.nd.array(np.random.default_rng(0).standard_normal((batch,) + input_shape(int8.recipe)))
    diff, agree = 0.0, 0
    for i in range(0, x.shape[0], batch):
        xi = x[i:i + batch].as_in_context(int8.ctx)
        ours = int8.net(xi)
        diff = max(diff, float((reloaded.net(xi) - ours).abs().max().asscalar()))
        agree += int((ours.argmax(axis=1) == fp32.net(xi).argmax(axis=1)).sum().asscalar())
    return {"reload_difference": diff, "agreement": agree / x.shape[0], "agreement_images": x.shape[0]}
