"""Ustaz web app: build from settings, launch. All behaviour lives in tutor/."""

from tutor.config import Settings
from tutor.ui.app import build_app, launch

settings = Settings.load()
demo, services = build_app(settings)

if __name__ == "__main__":
    launch(demo, settings)
