"""Launch the musicrfm Gradio app: `python apps/musicrfm_app.py [--port 7860] [--model toy]`.

The app lives in `musicrfm.app`; this script only calls its `main`, as `musicrfm app` does.
"""

import sys

from musicrfm.app import main

if __name__ == "__main__":
    sys.exit(main())
