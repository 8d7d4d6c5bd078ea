"""Words on the public pages, in Swedish and English.

A plain dict rather than gettext: two languages, a few dozen strings, and a
missing key should fail a test, not show a placeholder to a visitor.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("sv", "en")

STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "when": "När",
        "where": "Var",
        "host": "Värd",
        "map": "Visa på karta",
        "map_note": "(öppnas hos OpenStreetMap)",
        "calendar": "Lägg till i kalendern",
        "answer_by": "Svara senast {date}.",
        "your_answer": "Ditt svar",
        "answer_yes_now": "Ja, du är anmäld.",
        "answer_yes_guests": "Ja, du är anmäld och tar med {guests}.",
        "one_guest": "1 gäst",
        "n_guests": "{n} gäster",
        "answer_waitlisted": "Du står på väntelistan. Blir en plats ledig mejlar vi dig.",
        "answer_waitlisted_closed": "Du står på väntelistan.",
        "answer_no_now": "Nej, du kan inte komma.",
        "saved": "Tack! Ditt svar är sparat.",
        "saved_waitlisted": "Tack! Träffen är fullbokad just nu, så du står på väntelistan. "
                            "Blir en plats ledig mejlar vi dig.",
        "saved_waitlisted_few_one": "Tack! Det finns bara en plats kvar, inte nog för dig och dina gäster, "
                                    "så du står på väntelistan. Blir fler platser lediga mejlar vi dig.",
        "saved_waitlisted_few": "Tack! Det finns bara {n} platser kvar, inte nog för dig och dina gäster, "
                                "så du står på väntelistan. Blir fler platser lediga mejlar vi dig.",
        "answer_waitlisted_few_one": "Du står på väntelistan: en plats är kvar, men det räcker inte för dig och "
                                     "dina gäster. Blir fler platser lediga mejlar vi dig.",
        "answer_waitlisted_few": "Du står på väntelistan: {n} platser är kvar, men det räcker inte för dig och "
                                 "dina gäster. Blir fler platser lediga mejlar vi dig.",
        "test_link": "Testlänk – inget sparas",
        "test_not_saved": "Ett riktigt svar hade sparats nu. Det här var en testlänk, så inget sparades.",
        "test_unsubscribe": "Testlänk: ingen adress avregistrerades.",
        "meeting_cancelled": "Träffen är inställd.",
        "unsub_service_note": "Har du anmält dig till en träff får du ändå mejl om den: bekräftelser, "
                              "ändringar, praktisk information och besked om den ställs in.",
        "form_heading": "Svara på inbjudan",
        "change_heading": "Ändra ditt svar",
        "coming": "Kommer du?",
        "yes": "Ja, jag kommer",
        "no": "Nej, jag kan inte komma",
        "guests": "Antal gäster som följer med dig",
        "guests_hint": "Högst {n}. Gäller bara om du kommer.",
        "diet": "Specialkost eller allergier",
        "accessibility": "Behov för att kunna delta",
        "accessibility_hint": "Till exempel hörslinga, rullstolsplats eller tolk.",
        "comment": "Övrigt till arrangören",
        "optional": "frivilligt",
        "max_chars": "Högst {n} tecken.",
        "send": "Skicka svar",
        "send_change": "Spara ändringen",
        "errors_heading": "Något behöver rättas",
        "closed": "Anmälan är stängd.",
        "closed_contact": "Vill du ändra något? Kontakta oss på {email}.",
        "expired_form": "Sidan hade varit öppen länge. Kontrollera ditt svar och skicka igen.",
        "error.answer.required": "Välj ja eller nej.",
        "error.guests.not_a_number": "Ange antal gäster med siffror, 0–{limit}.",
        "error.guests.too_many": "Antalet gäster kan vara högst {limit}.",
        "error.guests.no_room": "Gäster med dig: högst {limit}, för träffen är nästan full.",
        "error.diet.too_long": "Skriv högst {limit} tecken.",
        "error.accessibility.too_long": "Skriv högst {limit} tecken.",
        "error.comment.too_long": "Skriv högst {limit} tecken.",
        "unsub_title": "Avsluta utskick",
        "unsub_question": "Vill du sluta få inbjudningar och utskick från {sender} till {email}?",
        "unsub_button": "Ja, avsluta utskicken",
        "unsub_done_title": "Du får inga fler utskick",
        "unsub_done": "Vi skickar inga fler inbjudningar till {email}.",
        "resub_question": "Ångrade du dig?",
        "resub_button": "Få utskick igen",
        "resub_done": "Välkommen tillbaka! Du får utskick från {sender} igen.",
        "not_found_title": "Länken fungerar inte",
        "not_found": "Länken kan ha blivit ofullständig eller vara för gammal. Prova att kopiera hela "
                     "länken från mejlet. Hjälper inte det, mejla oss på {email}.",
        "too_many_title": "För många försök",
        "too_many": "Vänta en stund och försök sedan igen.",
        "eval_title": "Utvärdering",
        "eval_intro": "Vad tyckte du om träffen?",
        "eval_value": "Hur givande var träffen för dig?",
        "eval_knowledge": "Vet du nu mer om hur regionen arbetar med kultur?",
        "eval_scale": "1 = inte alls, 5 = i hög grad",
        "eval_cooperation": "Vill du samarbeta mer med andra medlemsorganisationer?",
        "eval_yes": "Ja",
        "eval_no": "Nej",
        "eval_comment": "Något mer du vill säga?",
        "eval_send": "Skicka utvärderingen",
        "eval_saved": "Tack för dina svar!",
        "eval_not_eligible": "Utvärderingen är till för dem som var med på träffen.",
        "eval_answered_anonymous": "Tack, du har redan svarat. Svaren sparas utan namn och kan därför inte ändras.",
        "eval_anonymous_note": "Dina svar sparas utan ditt namn och kan inte ändras efteråt.",
        "eval_error.value": "Välj en siffra 1–5.",
        "eval_error.knowledge": "Välj en siffra 1–5.",
        "eval_error.cooperation": "Välj ja eller nej.",
        "eval_error.comment": "Texten är för lång.",
    },
    "en": {
        "when": "When",
        "where": "Where",
        "host": "Host",
        "map": "Show on a map",
        "map_note": "(opens OpenStreetMap)",
        "calendar": "Add to calendar",
        "answer_by": "Please reply by {date}.",
        "your_answer": "Your reply",
        "answer_yes_now": "Yes, you are booked in.",
        "answer_yes_guests": "Yes, you are booked in and bringing {guests}.",
        "one_guest": "1 guest",
        "n_guests": "{n} guests",
        "answer_waitlisted": "You are on the waiting list. If a place becomes free we will email you.",
        "answer_waitlisted_closed": "You are on the waiting list.",
        "answer_no_now": "No, you cannot come.",
        "saved": "Thank you! Your reply has been saved.",
        "saved_waitlisted": "Thank you! The meeting is fully booked at the moment, so you are on the "
                            "waiting list. If a place becomes free we will email you.",
        "saved_waitlisted_few_one": "Thank you! There is only one place left, not enough for you and your guests, "
                                    "so you are on the waiting list. If more places become free we will email you.",
        "saved_waitlisted_few": "Thank you! There are only {n} places left, not enough for you and your guests, "
                                "so you are on the waiting list. If more places become free we will email you.",
        "answer_waitlisted_few_one": "You are on the waiting list: one place is left, but not enough for you and "
                                     "your guests. If more places become free we will email you.",
        "answer_waitlisted_few": "You are on the waiting list: {n} places are left, but not enough for you and "
                                 "your guests. If more places become free we will email you.",
        "test_link": "Test link – nothing is saved",
        "test_not_saved": "A real reply would have been saved now. This was a test link, so nothing was saved.",
        "test_unsubscribe": "Test link: no address was unsubscribed.",
        "meeting_cancelled": "The meeting has been cancelled.",
        "unsub_service_note": "If you have signed up for a meeting, you will still get mail about it: "
                              "confirmations, changes, practical information and word if it is cancelled.",
        "form_heading": "Reply to the invitation",
        "change_heading": "Change your reply",
        "coming": "Will you come?",
        "yes": "Yes, I will come",
        "no": "No, I cannot come",
        "guests": "Number of guests coming with you",
        "guests_hint": "At most {n}. Only if you are coming.",
        "diet": "Special diet or allergies",
        "accessibility": "Anything you need to take part",
        "accessibility_hint": "For example a hearing loop, wheelchair space or an interpreter.",
        "comment": "Anything else for the organisers",
        "optional": "optional",
        "max_chars": "At most {n} characters.",
        "send": "Send reply",
        "send_change": "Save the change",
        "errors_heading": "Something needs fixing",
        "closed": "Registration is closed.",
        "closed_contact": "Need to change something? Email us at {email}.",
        "expired_form": "The page had been open for a long time. Please check your reply and send it again.",
        "error.answer.required": "Choose yes or no.",
        "error.guests.not_a_number": "Give the number of guests in digits, 0–{limit}.",
        "error.guests.too_many": "The number of guests can be at most {limit}.",
        "error.guests.no_room": "Guests with you: at most {limit}, as the meeting is nearly full.",
        "error.diet.too_long": "Write at most {limit} characters.",
        "error.accessibility.too_long": "Write at most {limit} characters.",
        "error.comment.too_long": "Write at most {limit} characters.",
        "unsub_title": "Unsubscribe",
        "unsub_question": "Do you want to stop receiving invitations and mailings from {sender} at {email}?",
        "unsub_button": "Yes, unsubscribe me",
        "unsub_done_title": "You will get no more mailings",
        "unsub_done": "We will send no more invitations to {email}.",
        "resub_question": "Changed your mind?",
        "resub_button": "Subscribe again",
        "resub_done": "Welcome back! You will receive mailings from {sender} again.",
        "not_found_title": "This link does not work",
        "not_found": "The link may have been cut short or be out of date. Try copying the whole link "
                     "from the email. If that does not help, email us at {email}.",
        "too_many_title": "Too many attempts",
        "too_many": "Please wait a moment and try again.",
        "eval_title": "Evaluation",
        "eval_intro": "What did you think of the meeting?",
        "eval_value": "How valuable was the meeting for you?",
        "eval_knowledge": "Do you now know more about how the region works with culture?",
        "eval_scale": "1 = not at all, 5 = very much",
        "eval_cooperation": "Would you like closer cooperation with other member organisations?",
        "eval_yes": "Yes",
        "eval_no": "No",
        "eval_comment": "Anything else you would like to say?",
        "eval_send": "Send the evaluation",
        "eval_saved": "Thank you for your answers!",
        "eval_not_eligible": "The evaluation is for those who took part in the meeting.",
        "eval_answered_anonymous": "Thank you, you have already answered. Answers are stored without names, so they cannot be changed.",
        "eval_anonymous_note": "Your answers are stored without your name and cannot be changed afterwards.",
        "eval_error.value": "Choose a number 1–5.",
        "eval_error.knowledge": "Choose a number 1–5.",
        "eval_error.cooperation": "Choose yes or no.",
        "eval_error.comment": "The text is too long.",
    },
}


def page_language(language: str | None) -> str:
    return language if language in LANGUAGES else "sv"


class Words:
    """`t("key", n=2)` in templates; an unknown key raises KeyError, so a typo fails a test."""

    def __init__(self, language: str | None, table: dict[str, dict[str, str]] | None = None):
        self.lang = page_language(language)
        self._strings = (table or STRINGS)[self.lang]  # the staff pages bring their own table

    def __call__(self, key: str, **values: Any) -> str:
        return self._strings[key].format(**values)
