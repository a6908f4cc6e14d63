"""The edge kit: run and time exported models with numpy, ai-edge-litert and onnxruntime only.

Installed with the library as ``keras_nn.edge``; the same folder, copied onto a device, runs as a package
(``python -m <folder>.run_tflite``) or as plain scripts (``python run_tflite.py``). See README.md. This file
imports nothing, so ``python -m`` runs a script without importing it twice.
"""
