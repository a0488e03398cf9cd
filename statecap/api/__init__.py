"""The REST API and the dashboard (FastAPI). `create_app(db)` builds the application for one store."""
