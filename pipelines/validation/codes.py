"""Code lists: ISO 3166-1 alpha-2 countries and active ISO 4217 currencies.

Countries come from ``pycountry`` (the Debian iso-codes copy of ISO 3166-1:
officially assigned alpha-2 codes only, no user-assigned ones such as ``XK``).
Currencies come from ``iso4217``, a verbatim copy of the ISO 4217 maintenance
agency's List One (current currencies and funds), whose version carries the
publication date (``iso4217.__published__``): it is the authoritative
"active" list and tells exactly which edition we validate against. pycountry's
currency list is derived from the same table but lags behind it.
"""

from __future__ import annotations

import iso4217
import pycountry

__all__ = ["COUNTRY_CODES", "CURRENCY_CODES", "CURRENCY_LIST_PUBLISHED"]

COUNTRY_CODES: frozenset[str] = frozenset(country.alpha_2 for country in pycountry.countries)
CURRENCY_CODES: frozenset[str] = frozenset(currency.code for currency in iso4217.Currency)
CURRENCY_LIST_PUBLISHED: str = iso4217.__published__.isoformat()
