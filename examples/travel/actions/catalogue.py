"""The example's fixed data: what the actions search and book (no database, no network)."""

from __future__ import annotations

import zlib

CARS = {
    ("basel", "suv"): ["Toyota RAV4", "Kia Sportage"],
    ("basel", "compact"): ["VW Polo", "Fiat 500"],
    ("zurich", "compact"): ["VW Polo", "Renault Clio"],
    ("geneva", "compact"): ["Peugeot 208"],
    ("geneva", "suv"): ["Volvo XC40"],
    ("lisbon", "compact"): ["Seat Ibiza", "Fiat 500"],
    ("lisbon", "van"): ["Ford Transit"],
}

HOTELS = {
    ("lisbon", "mid-range"): ["Hotel Alfama", "Casa do Rio"],
    ("lisbon", "luxury"): ["Palacio Tejo"],
    ("rome", "budget"): ["Hostel Termini", "Albergo Sole"],
    ("rome", "mid-range"): ["Hotel Navona"],
    ("vienna", "luxury"): ["Hotel Imperial Garden"],
}

EXCURSIONS = {
    "lisbon": ["Sintra day trip", "Tagus sunset cruise"],
    "rome": ["Vatican museums tour", "Colosseum night walk"],
    "vienna": ["Wachau valley wine tour"],
}

FLIGHTS = {
    "ABC123": "Zurich to Lisbon, 12 May at 08:40",
    "XYZ789": "Basel to Rome, 3 June at 17:15",
}

BOOKINGS = [
    "flight ABC123, Zurich to Lisbon on 12 May",
    "Hotel Alfama in Lisbon, 12 to 15 May",
    "flight XYZ789, Basel to Rome on 3 June",
]


def key(text: object) -> str:
    """A catalogue key: lower case, outer blanks dropped."""
    return str(text or "").strip().lower()


def listing(names: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def confirmation(prefix: str, *parts: object) -> str:
    """A deterministic confirmation number for a booking of ``parts``."""
    digest = zlib.crc32("|".join(key(p) for p in parts).encode("utf-8"))
    return f"{prefix}-{digest % 1_000_000:06d}"
