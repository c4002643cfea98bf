"""What the offline LM writes about: topic templates, the product manual behind it, and the concrete
names, places and dates a case's facts are drawn from.

Templates use `str.format_map` fields filled from a case's facts (see `offline_case.Scene.facts`); the
fields are listed in `offline_text`.
"""

from __future__ import annotations

from typing import NamedTuple


class Topic(NamedTuple):
    """Templates for one kind of request, keyed by words found in a topic value (an intent, a question type)."""

    words: tuple[str, ...]  # substrings of the humanised value that select this topic
    asks: tuple[str, ...]  # the core request
    vague: tuple[str, ...]  # the same request with the identifying details missing
    details: tuple[str, ...]  # extra detail a harder request carries
    actions: tuple[str, ...]  # what a good answer does ("... explains ...")
    keys: tuple[str, ...]  # short facts or steps a good answer contains
    tools: tuple[str, ...] = ()  # words that pick a tool name from the prompt


SHOP_TOPICS: tuple[Topic, ...] = (
    Topic(
        ("refund", "money back", "reimburs"),
        (
            "I'd like a refund for the {item} I bought {days} days ago.",
            "Can I get my money back for order {order_id}? The {item} {defect}.",
            "The {item} {defect}, so I want a refund.",
            "How do I get refunded for the {item}? I paid {amount} for it.",
            "Please refund order {order_id}, the {item} isn't what I expected.",
            "I sent the {item} back {days} days ago and still haven't seen my refund.",
        ),
        ("I want my money back.", "Refund please.", "How do refunds work for this?"),
        (
            "I paid {amount} by card.",
            "It was a present, so I don't have the box any more.",
            "The order number is {order_id}.",
            "I've only used it twice.",
            "The seal is already broken.",
        ),
        (
            "checks order {order_id} against the {window}-day refund window",
            "explains whether the {item} qualifies for a refund and how to start it",
            "explains how the refund of {amount} reaches the original payment method",
        ),
        (
            "{window}-day refund window",
            "order number {order_id}",
            "return label",
            "refund to the original payment method",
            "receipt required",
            "item must be unopened",
        ),
        ("refund", "return", "order"),
    ),
    Topic(
        ("ship", "deliver", "track", "status", "where"),
        (
            "Where is my order {order_id}? It was supposed to arrive on {date}.",
            "The tracking for my {item} hasn't moved in {days} days.",
            "Can you tell me when the {item} will be delivered?",
            "{carrier} says my parcel was delivered, but nothing is here.",
            "My order {order_id} still says 'processing'. When does it ship?",
            "Is there any way to speed up delivery of the {item}?",
        ),
        ("Where's my stuff?", "When does it come?", "Still waiting on my order."),
        (
            "I need it before {weekday}.",
            "The tracking number starts with {order_id}.",
            "I'm not home during the day.",
            "It's a gift, so the date matters.",
        ),
        (
            "gives the current status of order {order_id} from the order data",
            "explains what the {carrier} tracking status means and the expected delivery date",
            "offers to open a carrier investigation if the parcel is lost",
        ),
        ("order number {order_id}", "tracking link", "expected delivery date", "carrier {carrier}"),
        ("track", "ship", "order", "status"),
    ),
    Topic(
        ("cancel",),
        (
            "Please cancel order {order_id}, I ordered the wrong {item}.",
            "Can I still cancel the {item} I ordered this morning?",
            "I want to cancel my order before it ships.",
            "Cancel order {order_id} please, I found it cheaper elsewhere.",
            "How do I cancel one item from order {order_id} and keep the rest?",
        ),
        ("Cancel it.", "I don't want it anymore.", "Can you stop the order?"),
        (
            "I placed it late last night.",
            "I paid {amount} with PayPal.",
            "The confirmation email says it's already packed.",
        ),
        (
            "checks whether order {order_id} has shipped before promising a cancellation",
            "cancels the order or explains the return route if it already shipped",
            "confirms the cancellation and when the {amount} is refunded",
        ),
        ("order number {order_id}", "cancellation only before dispatch", "refund timeline"),
        ("cancel", "order"),
    ),
    Topic(
        ("account", "login", "log in", "password", "access", "sign in"),
        (
            "I can't log into my account, the password reset email never arrives.",
            "My account is locked after too many login attempts.",
            "I changed my email address and now I can't sign in.",
            "Someone else might be using my account, I saw an order I didn't place.",
            "How do I get back into my account? It's registered to {email}.",
        ),
        ("Can't log in.", "Account doesn't work.", "Help with my login."),
        (
            "I already checked the spam folder.",
            "The account email is {email}.",
            "I use two-factor authentication on my old phone.",
        ),
        (
            "walks through the password reset without asking for the password",
            "verifies identity through the registered email before changing anything",
            "explains how to unlock the account safely",
        ),
        ("password reset link", "identity check", "never share the password", "registered email"),
        ("account", "user", "customer"),
    ),
    Topic(
        ("product", "spec", "compat", "stock", "recommend", "question"),
        (
            "Does the {item} work with an iPhone?",
            "Is the {item} compatible with my laptop's USB-C port?",
            "What's the battery life of the {item}?",
            "Is the {item} back in stock soon?",
            "Which is better for a small flat, the {item} or the cheaper model?",
            "Is there a charger in the box with the {item}?",
        ),
        ("Is it any good?", "Will it work?", "Question about a product."),
        ("I'd use it mostly for travel.", "My budget is around {amount}.", "I already own the older model."),
        (
            "answers the question about the {item} from the product data",
            "says clearly when a specification is not known instead of guessing",
            "recommends a product only from the shop's catalogue",
        ),
        ("product specification", "compatibility", "stock status", "price {amount}"),
        ("product", "search", "catalog"),
    ),
    Topic(
        ("bill", "invoice", "charge", "payment", "price"),
        (
            "I was charged twice for order {order_id}.",
            "Can I get a VAT invoice for the {item}?",
            "My card was charged {amount} but the order shows a lower total.",
            "Why did the price of the {item} change after I ordered?",
        ),
        ("Wrong charge.", "I need an invoice.", "Something is off with my payment."),
        ("The bank statement shows two payments of {amount}.", "It's for my company."),
        (
            "checks the payments on order {order_id} and explains the difference",
            "sends or explains how to download the invoice",
        ),
        ("order number {order_id}", "invoice", "amount {amount}", "refund of duplicate charges"),
        ("invoice", "payment", "order"),
    ),
    Topic(
        ("warrant", "repair", "broken", "defect", "return"),
        (
            "My {item} {defect}. Is it still under warranty?",
            "How do I send the {item} in for repair?",
            "The {item} {defect} after {days} days. What are my options?",
        ),
        ("It's broken.", "It stopped working.", "Can you fix it?"),
        ("I bought it on {date}.", "I've got the receipt.", "It's been dropped once, but only lightly."),
        (
            "explains the warranty terms for the {item} and the repair process",
            "asks for the purchase date and fault description before promising a repair",
        ),
        ("warranty period", "proof of purchase", "repair or replacement", "return label"),
        ("warranty", "return", "repair"),
    ),
)

TRAVEL_TOPICS: tuple[Topic, ...] = (
    Topic(
        ("search", "find", "look"),
        (
            "Can you find me a flight from {city} to {city2} on {date}?",
            "What flights are there to {city2} next {weekday}?",
            "Look up the cheapest way to get from {city} to {city2} around {date}.",
            "I need options to fly to {city2} on {date}, morning if possible.",
            "Are there direct flights from {city} to {city2} on {weekday}?",
        ),
        ("Find me a flight.", "What's available next week?", "Any flights?"),
        ("We're {pax} people.", "I can only leave after {time}.", "Budget is about {amount}."),
        (
            "searches flights {city} to {city2} for {date} before answering",
            "lists the options the search returned without inventing any",
        ),
        ("{city} to {city2}", "date {iso}", "prices from the search result", "number of stops"),
        ("search", "find", "flight"),
    ),
    Topic(
        ("book", "reserv"),
        (
            "Please book the {time} flight from {city} to {city2} on {date}.",
            "Book me on flight {flight} on {date}, window seat if you can.",
            "Go ahead and book the cheapest option to {city2} for {date}.",
            "Reserve {pax} seats on {flight} to {city2}.",
        ),
        ("Book it.", "Book me something.", "Book the flight we talked about."),
        ("Use the card on file.", "The passenger name is {name}.", "I need to land before {time}."),
        (
            "books flight {flight} only after confirming the details with the user",
            "confirms the booking reference and the total price",
        ),
        ("flight {flight}", "date {iso}", "passenger {name}", "booking confirmation"),
        ("book", "reserv"),
    ),
    Topic(
        ("cancel",),
        (
            "Cancel my booking {booking_ref}, please.",
            "I need to cancel the flight to {city2} on {date}.",
            "Please cancel reservation {booking_ref}, my plans changed.",
        ),
        ("Cancel it.", "Cancel my trip.", "I don't need the flight anymore."),
        ("Will I get a refund?", "The booking is under {name}."),
        (
            "cancels booking {booking_ref} and reports the refund the tool returned",
            "checks the fare rules before cancelling",
        ),
        ("booking {booking_ref}", "cancellation fee", "refund amount"),
        ("cancel",),
    ),
    Topic(
        ("reschedul", "change", "move"),
        (
            "Can you move my flight {booking_ref} from {date} to {weekday}?",
            "I need to reschedule my trip to {city2} to a later date.",
            "Push my {city2} flight back by a day, please.",
            "Is there an earlier flight than {flight} on {date}? I'd like to switch.",
        ),
        ("Move my flight.", "Change the date please.", "Can we do another day?"),
        ("Check my calendar first, I have meetings on {weekday}.", "Same seat class, please."),
        (
            "checks the calendar and availability before changing booking {booking_ref}",
            "explains the change fee before rebooking",
        ),
        ("booking {booking_ref}", "new date", "change fee", "calendar conflict check"),
        ("calendar", "cancel", "book"),
    ),
)

MANUAL_TOPICS: tuple[Topic, ...] = (
    Topic(
        ("how", "procedur", "step", "setup", "instruction"),
        (
            "How do I {subject}?",
            "What are the steps to {subject} on the {product}?",
            "I can't figure out how to {subject}.",
            "Can you tell me how to {subject}?",
        ),
        ("How does it work?", "How do I set it up?"),
        (),
        (),
        (),
    ),
    Topic(
        ("trouble", "error", "problem", "fix", "issue"),
        (
            "My {product} {subject}. What should I do?",
            "The {product} {subject} - how do I fix that?",
            "My {product} {subject} and I don't know why.",
            "Help, the {product} {subject}.",
        ),
        ("It's not working right.", "Something's wrong with it."),
        (),
        (),
        (),
    ),
    Topic(
        ("spec", "fact", "numer", "number", "attribute"),
        (
            "What is the {subject} of the {product}?",
            "What does the manual say about the {subject}?",
            "Quick question: what's the {subject}?",
            "Where can I find the {subject} for my {product}?",
        ),
        ("What are the specs?", "Tell me about it."),
        (),
        (),
        (),
    ),
    Topic(
        ("compar", "versus", "differ"),
        (
            "What's the difference between {subject}?",
            "Should I use {subject}? Which is better?",
            "Can you compare {subject} for me?",
        ),
        ("Which mode is better?", "What's the difference?"),
        (),
        (),
        (),
    ),
    Topic(
        ("safe", "hazard", "warning"),
        (
            "Is it safe to {subject}?",
            "What does the manual say about safety when I {subject}?",
            "Are there any warnings if I {subject}?",
        ),
        ("Is it safe?", "Any dangers?"),
        (),
        (),
        (),
    ),
)

# numeric-reasoning questions and the subject of the fact they need
MANUAL_NUMERIC: tuple[tuple[str, str, str], ...] = (
    (
        "If every Eco-mode run takes 40 minutes, how many full runs do I get from one charge?",
        "battery life",
        "3 full runs (120 minutes divided by 40).",
    ),
    (
        "If I put it on the dock at 22:00 with an empty battery, when is it fully charged?",
        "charging time",
        "At about 02:00, since a full charge takes about 4 hours.",
    ),
    (
        "My doorway threshold is 2.5 cm high. Will it get over it?",
        "maximum threshold height",
        "No: it climbs thresholds up to 2 cm, and 2.5 cm is higher.",
    ),
    (
        "Each room fills about 0.15 litres of dust. How many rooms can it clean before I empty the bin?",
        "dust bin capacity",
        "3 rooms (0.45 litres divided by 0.15).",
    ),
    (
        "I bought it 20 months ago. How many months of warranty are left?",
        "warranty period",
        "4 months (24 months minus 20).",
    ),
)
# (kind, subject, answer sentence, section): the "manual" behind a product-manual test space.
MANUAL_FACTS: tuple[tuple[str, str, str, str], ...] = (
    (
        "task",
        "reset it to factory settings",
        "Hold the power and home buttons together for 10 seconds until the ring light blinks amber.",
        "6.3",
    ),
    (
        "task",
        "connect it to Wi-Fi",
        "Open the app, tap Add device and choose a 2.4 GHz network; 5 GHz is not supported.",
        "2.2",
    ),
    (
        "task",
        "update the firmware",
        "Firmware updates install from Settings > System > Update while the device charges.",
        "7.1",
    ),
    (
        "task",
        "clean the filter",
        "Remove the filter every two weeks, tap out the dust and let it dry; never wash it in a dishwasher.",
        "5.2",
    ),
    (
        "task",
        "set a cleaning schedule",
        "Schedules are set in the app under Routines; up to 7 schedules can be stored.",
        "4.4",
    ),
    (
        "task",
        "empty the dust bin",
        "Press the release tab on top, lift the bin out and empty it over a bin bag.",
        "5.1",
    ),
    (
        "symptom",
        "keeps disconnecting from Wi-Fi",
        "If the connection drops, move the dock within 10 m of the router and make sure the network is 2.4 GHz.",
        "8.2",
    ),
    (
        "symptom",
        "shows error E4",
        "Error E4 means a cliff sensor is blocked; wipe the sensor windows with a dry cloth.",
        "8.4",
    ),
    (
        "symptom",
        "won't charge on the dock",
        "Clean the charging contacts and check that the dock's LED is solid white.",
        "8.1",
    ),
    (
        "symptom",
        "gets stuck under the sofa",
        "Add a no-go zone in the app or raise the obstacle threshold in Settings.",
        "8.6",
    ),
    (
        "attr",
        "battery life",
        "A full battery runs for up to 120 minutes in Eco mode and 60 minutes in Turbo mode.",
        "3.2",
    ),
    ("attr", "charging time", "A full charge takes about 4 hours on the supplied dock.", "3.1"),
    ("attr", "dust bin capacity", "The dust bin holds 0.45 litres.", "1.5"),
    ("attr", "warranty period", "The limited warranty covers 24 months from the date of purchase.", "9.1"),
    ("attr", "maximum threshold height", "It climbs thresholds and rugs up to 2 cm high.", "1.6"),
    (
        "compare",
        "Eco mode and Turbo mode",
        "Eco mode is quieter and doubles the runtime; Turbo mode triples suction for carpets.",
        "4.2",
    ),
    (
        "compare",
        "the side brush and the roller brush",
        "The side brush sweeps edges into the path; the roller brush lifts dirt from carpets.",
        "5.3",
    ),
    ("safety", "use it on a wet floor", "Do not use the device on wet floors or near standing water.", "1.2"),
    (
        "safety",
        "charge a swollen battery",
        "Use only the original battery; a damaged or swollen battery must not be charged.",
        "1.3",
    ),
    (
        "safety",
        "run it with children or pets around",
        "Keep small children away while it runs; pets are fine.",
        "1.4",
    ),
)

ITEMS: tuple[str, ...] = (
    "wireless headphones",
    "USB-C charger",
    "4K monitor",
    "mechanical keyboard",
    "smart speaker",
    "laptop stand",
    "webcam",
    "portable SSD",
    "fitness tracker",
    "e-reader",
    "gaming mouse",
    "power bank",
    "Bluetooth speaker",
    "smartwatch",
    "tablet case",
    "HDMI cable",
    "noise-cancelling earbuds",
    "router",
    "action camera",
    "electric toothbrush",
    "desk lamp",
    "phone case",
    "graphics card",
    "robot vacuum",
)
DEFECTS: tuple[str, ...] = (
    "stopped charging after a week",
    "arrived with a cracked screen",
    "makes a buzzing noise",
    "won't pair with my phone",
    "keeps disconnecting",
    "arrived with a missing part",
    "gets really hot",
    "turns off on its own",
    "is a different colour from the photo",
    "doesn't turn on at all",
)
PRODUCT_NOUNS: tuple[str, ...] = (
    "robot vacuum",
    "vacuum",
    "router",
    "printer",
    "thermostat",
    "camera",
    "coffee machine",
    "smartwatch",
    "air purifier",
    "drone",
    "speaker",
    "headphones",
    "e-bike",
    "washing machine",
    "dishwasher",
    "phone",
    "laptop",
    "television",
    "tv",
    "oven",
    "heat pump",
)
CITIES: tuple[str, ...] = (
    "London",
    "Berlin",
    "Lisbon",
    "Madrid",
    "Paris",
    "Rome",
    "Vienna",
    "Zurich",
    "New York",
    "Boston",
    "Chicago",
    "Toronto",
    "Dublin",
    "Amsterdam",
    "Copenhagen",
    "Barcelona",
    "Munich",
    "Oslo",
    "Prague",
    "Athens",
)
FIRST_NAMES: tuple[str, ...] = (
    "Maria",
    "James",
    "Aisha",
    "Lukas",
    "Sofia",
    "Tom",
    "Priya",
    "Daniel",
    "Chloe",
    "Mateo",
    "Hannah",
    "Omar",
    "Elena",
    "Noah",
    "Grace",
    "Jonas",
)
LAST_NAMES: tuple[str, ...] = (
    "Garcia",
    "Smith",
    "Khan",
    "Müller",
    "Rossi",
    "Brown",
    "Patel",
    "Novak",
    "Dubois",
    "Silva",
    "Weber",
    "Nakamura",
    "Olsen",
    "Byrne",
    "Costa",
    "Lee",
)
CARRIERS: tuple[str, ...] = ("DHL", "UPS", "DPD", "FedEx", "GLS", "USPS")
CARRIERS_GB: tuple[str, ...] = ("Royal Mail", "Evri", "DPD", "DHL")
WEEKDAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS: tuple[str, ...] = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
