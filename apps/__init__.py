"""The demos, one folder each.

Importing any of them first points Gradio's temp folder into this user's own (core.files): Gradio's default,
the shared /tmp/gradio, belongs to whoever ran a Gradio app there first, and on a lab server every other user's
hub then failed to build (PermissionError). This runs before gradio is imported by any page run alone
(`python -m apps.gradcam.ui_gradio`); app.py does the same before its own import of gradio.
"""

from core import files as _files

_files.use_private_gradio_temp()
