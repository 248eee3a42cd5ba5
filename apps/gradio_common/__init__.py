"""What every Gradio page shares, one file per job:

- serving.py: serve() and launch_page(): settings, bounded sessions, tabs marked, the disk housekeeper, exports;
- internals.py: the only code that leans on Gradio's private internals (and the release it was checked with);
- widgets.py: named outputs, the user-error answer, the image picker, control events, explainer, footer;
- sharebar.py: the bar every page carries (link to the view, lecture mode, lesson, JSON export, cross-links);
- look.py: the stylesheet, the <head> script and the theme.

Pages import what they use from here.
"""

from apps.gradio_common.look import CSS, HEAD, theme
from apps.gradio_common.serving import EXPORT_DIR, export_file, housekeeping, launch_kwargs, launch_page, serve
from apps.gradio_common.sharebar import ShareBar
from apps.gradio_common.widgets import (
    LATEX,
    Outputs,
    explainer,
    footer,
    image_picker,
    on_user_set,
    page_footer,
    user_set,
    warning,
)

__all__ = ["CSS", "EXPORT_DIR", "HEAD", "LATEX", "Outputs", "ShareBar", "explainer", "export_file", "footer",
           "housekeeping", "image_picker", "launch_kwargs", "launch_page", "on_user_set", "page_footer", "serve",
           "theme", "user_set", "warning"]
