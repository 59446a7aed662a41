"""The terminal explorer (Textual). Core modules never import this package.

``advtui.tui.app`` holds the App and its config; ``widgets``/``pixels`` the widgets; ``view``
turns App state into what the widgets show; ``screens`` the help and class picker;
``messages`` what worker threads post back.
"""
