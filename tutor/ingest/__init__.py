"""Reading teachers' files into documents and chunks."""

from tutor.ingest.pipeline import IngestError, Ingestor, IngestResult

__all__ = ["IngestError", "IngestResult", "Ingestor"]
