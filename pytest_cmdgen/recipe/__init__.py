"""The fine-tuning recipe (Rasa's ``rasa llm finetune prepare-data``, quirks fixed), usable without pytest.

Modules, in pipeline order: :mod:`.annotate` (passing test → :class:`~.conversation.Conversation`),
:mod:`.rephrase` (paraphrases and their validation), :mod:`.datapoints` (variants → data points),
:mod:`.split` (train/validation split, row formats, E2E split) and :mod:`.output` (the atomic output
directory). LLM access, the command serializer and the command parser are injected callables.
"""
