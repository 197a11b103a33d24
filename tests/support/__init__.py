"""Test helpers: starter-pack custom actions for the loopback action server, and command scripts."""
