"""pytest-cmdgen: turn Rasa CALM E2E tests into fine-tuning data for a small command-generator LLM."""

__version__ = "0.1.0"
