"""The Gradio app, run as its own process (`modeldesk share`); the window never imports it."""
