"""Item pipelines, one stage per file; only ``store`` touches the database."""
