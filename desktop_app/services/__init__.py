"""Use cases shared by the window, the CLI and the Gradio app. Neither of those holds business logic."""
