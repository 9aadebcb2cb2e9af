"""Test fixture plugin registering a tool named like the good plugin's."""
