"""The Gradio interface: student, teacher and evaluation tabs."""
