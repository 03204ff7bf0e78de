"""Model compression on the host: QAT, low-bit sweeps, pruning, distillation, gate, verifier, report.

Every stage reads a trained run (``mpyml train``) and writes its results
(JSON, PNG plots, .tflite models) into ``<run>/compression/``; ``report``
turns that folder into one Markdown + HTML page.

Quantization-aware training needs tensorflow-model-optimization, which works
only with Keras 2 (``tf_keras``) and switches ``tf.keras`` to Keras 2 for the
whole process when imported. That code lives in :mod:`mpyml.compress.keras2`,
:mod:`~mpyml.compress.qat` and :mod:`~mpyml.compress.bits`, which the CLI
runs in a child process started with ``TF_USE_LEGACY_KERAS=1``
(:mod:`mpyml.compress.worker`); everything else uses Keras 3 like the rest
of the tools.
"""
