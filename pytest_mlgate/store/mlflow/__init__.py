"""The MLflow history store and model registry (mlflow imported lazily)."""
