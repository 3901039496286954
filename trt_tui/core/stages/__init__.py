"""The pipeline's stages, one module each, in the order they run:

env → model → benchmark of the PyTorch rows → export → quantize → build → benchmark of the others.
Each module has a ``run(ctx)`` that takes the shared ``context.RunContext``; ``pipeline.Pipeline``
sequences them.
"""
