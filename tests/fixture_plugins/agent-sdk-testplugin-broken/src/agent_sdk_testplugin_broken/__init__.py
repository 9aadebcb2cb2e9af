"""Test fixture plugin whose hooks module fails to import."""
