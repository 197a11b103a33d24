"""A small pizza-shop CALM assistant for the coverage tests, written out by the tests themselves.

It has a deliberately uncovered branch (delivery: ``collect address`` and ``utter_delivery_confirmed``
are visited by no passing test), a flow reached only through ``call`` (``greet_politely``), a test that
fails on purpose (``failing.yml``) and recorded commands (``commands.yml``) in which ``cancel flow`` never
occurs. The line numbers below are those of ``FLOWS`` and are checked by hand in the tests.
"""

from __future__ import annotations

from pathlib import Path

FLOWS = """\
flows:
  order_pizza:
    name: order pizza
    description: Order a pizza for delivery or pickup.
    steps:
      - collect: pizza_type
        description: the kind of pizza
      - collect: delivery
        description: whether the pizza is delivered
        next:
          - if: slots.delivery
            then:
              - collect: address
                description: the delivery address
              - action: utter_delivery_confirmed
                next: END
          - else:
              - action: utter_pickup_confirmed
                next: END
  check_hours:
    description: Tell the opening hours.
    steps:
      - call: greet_politely
      - action: utter_hours
  greet_politely:
    if: false
    description: Say hello before answering.
    steps:
      - action: utter_hello
"""

DOMAIN = """\
version: "3.1"
slots:
  pizza_type:
    type: text
    mappings:
      - type: from_llm
  delivery:
    type: bool
    mappings:
      - type: from_llm
  address:
    type: text
    mappings:
      - type: from_llm
responses:
  utter_ask_pizza_type:
    - text: "Which pizza would you like?"
  utter_ask_delivery:
    - text: "Shall we deliver it?"
  utter_ask_address:
    - text: "Where should we deliver it?"
  utter_delivery_confirmed:
    - text: "Your pizza is on its way."
  utter_pickup_confirmed:
    - text: "Pick it up in 20 minutes."
  utter_hours:
    - text: "We are open from 11 to 23."
  utter_hello:
    - text: "Hello!"
"""

CONFIG = """\
recipe: default.v1
language: en
assistant_id: pizza-shop
pipeline:
  - name: SingleStepLLMCommandGenerator
    llm:
      provider: openai
      model: gpt-4o-2024-11-20
      temperature: 0.0
    flow_retrieval:
      active: false
policies:
  - name: FlowPolicy
"""

PASSING = """\
test_cases:
  - test_case: pickup order
    steps:
      - user: I want a margherita
      - utter: utter_ask_delivery
      - user: no, I will pick it up
      - utter: utter_pickup_confirmed
  - test_case: opening hours
    steps:
      - user: when are you open?
      - utter: utter_hello
      - utter: utter_hours
"""

FAILING = """\
test_cases:
  - test_case: wrong expectation
    steps:
      - user: I want a salami
      - utter: utter_hours
"""

COMMANDS = """\
conversations:
  - original_test_case: tests/orders.yml::pickup order
    steps:
      - user: I want a margherita
        llm_commands:
          - StartFlow(order_pizza)
          - SetSlot(pizza_type, margherita)
      - user: no, I will pick it up
        llm_commands:
          - SetSlot(delivery, False)
  - original_test_case: tests/orders.yml::opening hours
    steps:
      - user: when are you open?
        llm_commands:
          - StartFlow(check_hours)
  - original_test_case: tests/failing.yml::wrong expectation
    steps:
      - user: I want a salami
        llm_commands:
          - StartFlow(order_pizza)
          - SetSlot(pizza_type, salami)
"""


def write_pizza_shop(root: Path) -> Path:
    """Write the assistant into ``root/pizza`` (tests in ``pizza/tests``, failing ones in ``pizza/failing``)
    and return that directory."""
    project = root / "pizza"
    (project / "data").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "failing").mkdir()
    (project / "data" / "flows.yml").write_text(FLOWS)
    (project / "domain.yml").write_text(DOMAIN)
    (project / "config.yml").write_text(CONFIG)
    (project / "endpoints.yml").write_text("")
    (project / "tests" / "orders.yml").write_text(PASSING)
    (project / "failing" / "failing.yml").write_text(FAILING)
    (project / "commands.yml").write_text(COMMANDS)
    return project


__all__ = ["write_pizza_shop"]
