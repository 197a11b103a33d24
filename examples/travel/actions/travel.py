"""Search, booking and listing actions of the travel assistant (rasa_sdk ``Action`` classes)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.catalogue import BOOKINGS, CARS, EXCURSIONS, FLIGHTS, HOTELS, confirmation, key, listing

Events = list[dict[str, Any]]


class SearchRentalCars(Action):
    """Offer the cars of the requested type in the pickup city; ``cars_found`` says whether there were any."""

    def name(self) -> str:
        return "action_search_rental_cars"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        cars = CARS.get((key(tracker.get_slot("trip_destination")), key(tracker.get_slot("car_type"))), [])
        if cars:
            dispatcher.utter_message(response="utter_car_offers", offers=listing(cars))
        return [SlotSet("cars_found", bool(cars))]


class BookCar(Action):
    """Book the selected car; sets ``confirmation_number``."""

    def name(self) -> str:
        return "action_book_car"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        slots = ("selected_car", "trip_destination", "pickup_date", "return_date")
        return [SlotSet("confirmation_number", confirmation("CAR", *(tracker.get_slot(s) for s in slots)))]


class SearchHotels(Action):
    """Offer the hotels of the price range in the city; ``hotels_found`` says whether there were any."""

    def name(self) -> str:
        return "action_search_hotels"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        hotels = HOTELS.get((key(tracker.get_slot("hotel_city")), key(tracker.get_slot("hotel_price_range"))), [])
        if hotels:
            dispatcher.utter_message(response="utter_hotel_offers", offers=listing(hotels))
        return [SlotSet("hotels_found", bool(hotels))]


class BookHotel(Action):
    """Book the selected hotel; sets ``confirmation_number``."""

    def name(self) -> str:
        return "action_book_hotel"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        slots = ("selected_hotel", "checkin_date", "num_nights")
        return [SlotSet("confirmation_number", confirmation("HTL", *(tracker.get_slot(s) for s in slots)))]


class ListExcursions(Action):
    """Say which excursions start from the city (or that there are none yet)."""

    def name(self) -> str:
        return "action_list_excursions"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        excursions = EXCURSIONS.get(key(tracker.get_slot("excursion_city")), [])
        offers = listing(excursions) if excursions else "a free walking tour of the old town"
        dispatcher.utter_message(response="utter_excursion_options", offers=offers)
        return []


class BookExcursion(Action):
    """Book the excursion; sets ``confirmation_number``."""

    def name(self) -> str:
        return "action_book_excursion"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        slots = ("excursion_name", "excursion_date")
        return [SlotSet("confirmation_number", confirmation("EXC", *(tracker.get_slot(s) for s in slots)))]


class CheckFlightBooking(Action):
    """Look the booking reference up; sets ``flight_found`` and ``current_flight``."""

    def name(self) -> str:
        return "action_check_flight_booking"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        reference = str(tracker.get_slot("booking_reference") or "").strip().upper()
        flight = FLIGHTS.get(reference)
        return [SlotSet("flight_found", flight is not None), SlotSet("current_flight", flight)]


class ChangeFlight(Action):
    """Move the flight to the new date; sets ``confirmation_number``."""

    def name(self) -> str:
        return "action_change_flight"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        slots = ("booking_reference", "new_flight_date")
        return [SlotSet("confirmation_number", confirmation("FLT", *(tracker.get_slot(s) for s in slots)))]


class ListBookings(Action):
    """List the user's bookings."""

    def name(self) -> str:
        return "action_list_bookings"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        dispatcher.utter_message(text="Your bookings: " + "; ".join(BOOKINGS) + ".")
        return []
