"""The operators inside an exported model: which kernels a runtime will run (numpy-free, no TensorFlow).

Usage on a device::

    python operators.py model.tflite [model.onnx ...]

prints one line per file with every operator and how many times it occurs, in every subgraph (the bodies of
TFLite WHILE loops and ONNX Loop nodes included). It shows at a glance whether a recurrent layer became the
fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op or a WHILE loop, a native ONNX ``LSTM``/``GRU`` node or a ``Loop``,
and whether anything needs the Flex delegate (``Flex...`` custom ops), which many device runtimes lack.
TFLite files are read with the flatbuffer schema that ai-edge-litert ships (it needs the ``flatbuffers``
package, an ai-edge-litert dependency); ONNX files need the ``onnx`` package. Exit codes: 0 ok, 2 for a
missing file or an unknown extension.
"""

from __future__ import annotations

import os
import sys
from collections import Counter

# The kit's own modules: from the package when this file runs inside one (installed as keras_nn.edge, or a
# copied folder run with `python -m kit.operators`), else from this folder, which Python puts first on
# sys.path for a plain script (`python operators.py`).
if __package__:
    from . import edge_common
else:
    import edge_common


def _tflite_schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError as err:
        raise ImportError(
            "reading .tflite operators needs ai-edge-litert (pip install ai-edge-litert)"
        ) from err
    return schema


def tflite_operators(path: str) -> dict:
    """Operator name -> count over every subgraph of a ``.tflite`` file; custom ops by their custom code."""
    edge_common.ensure_file(path, "model file")
    schema = _tflite_schema()
    with open(path, "rb") as f:
        buffer = f.read()
    try:
        model = schema.Model.GetRootAs(buffer, 0)
        names = {
            value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")
        }
        codes = []
        for i in range(model.OperatorCodesLength()):
            code = model.OperatorCodes(i)
            # Old files keep small codes in deprecated_builtin_code; newer ones use builtin_code.
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            name = names.get(builtin, f"BUILTIN_{builtin}")
            if name == "CUSTOM":
                name = (code.CustomCode() or b"CUSTOM").decode("utf-8", "replace")
            codes.append(name)
        counts = Counter()
        for s in range(model.SubgraphsLength()):
            subgraph = model.Subgraphs(s)
            for o in range(subgraph.OperatorsLength()):
                counts[codes[subgraph.Operators(o).OpcodeIndex()]] += 1
    except Exception as err:  # a flatbuffer that is not a TFLite model fails anywhere in the accessors
        raise edge_common.EdgeKitUsageError(f"cannot read {path} as a TFLite model: {err}") from err
    return dict(counts)


def onnx_operators(path: str) -> dict:
    """Operator type -> count over an ONNX graph and every subgraph in it (Loop, If and Scan bodies)."""
    edge_common.ensure_file(path, "model file")
    try:
        import onnx
    except ImportError as err:
        raise ImportError("reading .onnx operators needs the onnx package (pip install onnx)") from err
    counts = Counter()

    def visit(graph):
        for node in graph.node:
            counts[
                node.op_type
                if not node.domain or node.domain == "ai.onnx"
                else f"{node.domain}.{node.op_type}"
            ] += 1
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    visit(attribute.g)
                for subgraph in attribute.graphs:
                    visit(subgraph)

    try:
        visit(onnx.load(path, load_external_data=False).graph)
    except Exception as err:  # onnx raises DecodeError and others for a file that is not a model
        raise edge_common.EdgeKitUsageError(f"cannot read {path} as an ONNX model: {err}") from err
    return dict(counts)


def operators(path: str) -> dict:
    """The operator counts of a ``.tflite`` or ``.onnx`` file, by extension."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".tflite":
        return tflite_operators(path)
    if ext == ".onnx":
        return onnx_operators(path)
    raise edge_common.EdgeKitUsageError(
        f"unsupported model extension {ext or '(none)'!r} for {path}: use .onnx or .tflite"
    )


def flex_operators(counts: dict) -> list:
    """The operators that need TensorFlow's Flex delegate (select TF ops), sorted."""
    return sorted(name for name in counts if name.startswith("Flex"))


def format_operators(counts: dict) -> str:
    """``NAME xCOUNT`` for every operator, most frequent first, on one line."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} x{count}" for name, count in ordered)


def main(argv=None) -> int:
    import argparse

    prog = "operators.py"
    parser = argparse.ArgumentParser(prog=prog, description="List the operators in .tflite and .onnx models.")
    parser.add_argument("files", nargs="+", help="exported models (.tflite, .onnx)")
    args = parser.parse_args(argv)
    try:
        for path in args.files:
            counts = operators(path)
            flex = flex_operators(counts)
            note = f"  (needs the Flex delegate: {', '.join(flex)})" if flex else ""
            print(f"{path}: {format_operators(counts)}{note}")
    except (FileNotFoundError, edge_common.EdgeKitUsageError, ImportError) as err:
        return edge_common.fail(prog, str(err))
    return 0


if __name__ == "__main__":
    sys.exit(main())
