"""Everything that is not Telegram: parsing, market data, grading, the store, charts.

Importing the package puts the narrow ccxt import in place (signals/ccxt_narrow.py) before
anything imports ccxt, so a process loads only the exchanges it talks to.
"""

from signals import ccxt_narrow as _ccxt_narrow

_ccxt_narrow.install()
