"""Reading teachers' files into documents and chunks."""

from tutor.ingest.pipeline import IngestError, IngestResult, Ingestor

__all__ = ["IngestError", "IngestResult", "Ingestor"]
