"""Test fixture plugin that works: a greet tool and an echo model provider."""
