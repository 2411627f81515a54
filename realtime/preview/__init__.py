"""The live preview: a window with a HUD, driven by callbacks (it never imports the runner)."""
