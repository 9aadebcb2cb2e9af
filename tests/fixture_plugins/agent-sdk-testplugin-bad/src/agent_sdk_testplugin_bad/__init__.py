"""Test fixture plugins that load but are wrong in one way each."""
