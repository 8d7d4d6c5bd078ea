"""The staff pages' words, Swedish by default and English, in the same form as the public pages'.

A missing key raises KeyError in `Words`, and a test checks both languages
have the same keys, so a forgotten translation fails a test, not a page.
"""

from mailer.web.staff.words_en import EN
from mailer.web.staff.words_en_lists import EN_LISTS
from mailer.web.staff.words_en_work import EN_WORK
from mailer.web.staff.words_sv import SV
from mailer.web.staff.words_sv_lists import SV_LISTS
from mailer.web.staff.words_sv_work import SV_WORK

STAFF_STRINGS: dict[str, dict[str, str]] = {"sv": {**SV, **SV_WORK, **SV_LISTS}, "en": {**EN, **EN_WORK, **EN_LISTS}}
