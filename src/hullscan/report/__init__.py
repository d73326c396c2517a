"""Report writers, one module per format, all views of model.ScanReport."""
