"""The travel assistant's custom actions, run in-process by pytest-cmdgen through rasa_sdk's executor.

They answer from the small, fixed catalogue in ``catalogue.py`` and the guide in ``docs/``, so every run gives
the same answers and nothing outside this folder is needed.
"""
